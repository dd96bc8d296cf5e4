"""The monitor's configuration: the ``finsentiment`` section of the suite's YAML file.

Every field has an embedded default, so ``nlpsuite finsentiment poll-once`` works with no
file at all: the demo feeds (finsentiment.demo renders data/feeds/story.csv, built from the
PhraseBank *test* part, into ``var/finsentiment/demo-feeds/``), a few demo topics, SQLite under ``var/finsentiment/`` and a local outbox folder instead of
SMTP. Unknown keys are errors (``StrictModel``), so a misspelt ``treshold`` does not silently
fall back to a default. The SMTP password is never a config value: ``smtp.password_env``
names the environment variable that holds it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Literal, Optional

from pydantic import Field, validator

from shared.config import ConfigError, StrictModel, load_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "finsentiment"
DEMO_DIR = ROOT / "var" / "finsentiment" / "demo-feeds"
DEMO_FEED_NAMES = ("nordic-wire", "market-news", "company-briefs", "business-daily")


class FeedConfig(StrictModel):
    """One feed: an http(s) URL, a file:// URL or a local path to an RSS/Atom file."""

    name: str
    url: str
    timeout_s: float = Field(10.0, gt=0)
    """Connecting, and waiting for each piece of the body."""
    deadline_s: float = Field(30.0, gt=0)
    """The whole download: a server that trickles bytes is abandoned after this."""
    max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    """The body after decompression; a larger feed is refused, not read into memory."""

    def limits(self):
        """What fetching this feed may cost (``finsentiment.fetching.FetchLimits``)."""
        from finsentiment.fetching.base import FetchLimits

        return FetchLimits(self.timeout_s, self.deadline_s, self.max_bytes)


class TopicConfig(StrictModel):
    """A company, ticker or sector. An article belongs to the topic when a keyword (any case,
    whole words) or a ticker (exact case, optionally with a leading $) occurs in its title or
    summary, or, with ``embedding.enabled``, when it is similar enough to ``description``."""

    name: str
    keywords: List[str] = []
    tickers: List[str] = []
    description: str = ""

    @validator("name")
    def _name_not_empty(cls, value):
        if not value.strip():
            raise ValueError("topic name must not be empty")
        return value.strip()


class AlertRule(StrictModel):
    """When a topic's negative sentiment counts as a spike (see trends.py and alerts.py)."""

    window_hours: float = Field(6.0, gt=0)
    """The rolling window whose negative share is compared with the threshold."""
    min_items: int = Field(5, ge=1)
    """Fewer scored articles in the window never fire (one bad headline is not a trend)."""
    negative_share: float = Field(0.4, ge=0, le=1)
    """Share of negative articles in the window at or above which the topic may fire."""
    min_deviation: float = Field(0.15, ge=0, le=1)
    """How far the window's share must exceed the topic's own baseline."""
    baseline_days: float = Field(7.0, gt=0)
    """The baseline is the negative share over this period before the window."""
    default_baseline: float = Field(0.15, ge=0, le=1)
    """Baseline used while a topic has fewer than ``min_items`` articles of history."""
    repeat_hours: float = Field(12.0, gt=0)
    """While a spike goes on, it is mailed again only after this long (Alertmanager's repeat_interval)."""
    cooldown_minutes: float = Field(60.0, ge=0)
    """After a spike resolves, the same topic does not fire again for this long (no flapping)."""
    send_resolved: bool = True
    """Mail a "resolved" message when the spike ends."""
    max_headlines: int = Field(10, ge=1)


class SmtpConfig(StrictModel):
    """``finsentiment.smtp``: the mail server used when ``notifier`` is smtp (`nlpsuite run` points it at the
    suite's local outbox server). With TLS the certificate is always verified; the password comes from
    the environment variable ``password_env`` names, never from the file."""

    host: str = "localhost"
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False
    ca_file: Optional[str] = None
    """PEM bundle trusted for the server's certificate (e.g. a company CA); default: the system's.
    The certificate and host name are always verified: a password never goes to an unproven host."""
    user: Optional[str] = None
    password_env: str = "NLPSUITE_SMTP_PASSWORD"
    """Name of the environment variable holding the password (never the password itself)."""
    sender: str = "finsentiment@localhost"
    timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(3, ge=1)
    """Tries per delivery round; an alert that still fails stays pending for the next round."""
    backoff_s: float = Field(1.0, ge=0)
    """Wait before the second try; doubled for each further one."""

    def password(self) -> Optional[str]:
        if not self.user:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(f"smtp.user is set but the environment variable {self.password_env} "
                              "(smtp.password_env) holding the password is not")
        return value


class EmbeddingConfig(StrictModel):
    """``finsentiment.embedding``: optional topic matching by the similarity of a headline to each topic's
    ``description`` (cosine at or above ``threshold``) with the sentence encoder ``model``; off by default."""

    enabled: bool = False
    """Also assign topics by similarity of the headline to the topic's description."""
    model: str = "minilm-l6"
    threshold: float = Field(0.5, ge=-1, le=1)


def demo_feeds(folder: str | Path = DEMO_DIR) -> list:
    """The demo story's feeds in ``folder`` (rendered there by finsentiment.demo)."""
    return [FeedConfig(name=name, url=str(Path(folder) / f"{name}.xml")) for name in DEMO_FEED_NAMES]


def _default_feeds() -> list:
    return demo_feeds()


def _default_topics() -> list:
    return [
        TopicConfig(name="Nokia", keywords=["Nokia", "Nokia Siemens"], tickers=["NOK", "NOK1V"],
                    description="Nokia mobile phones and telecom networks"),
        TopicConfig(name="Banks", keywords=["bank", "banks", "banking", "Nordea", "Pohjola", "Sampo"],
                    tickers=["NDA"], description="banks, lending and financial services"),
        TopicConfig(name="Forest industry", keywords=["UPM", "Stora Enso", "paper", "pulp", "forest", "sawmill"],
                    tickers=["UPM1V", "STERV"], description="paper, pulp and forest products"),
        TopicConfig(name="Metals and engineering", keywords=["steel", "Outokumpu", "Metso", "Outotec", "Rautaruukki"],
                    tickers=["OUT1V", "MEO1V"], description="steel, metals and engineering"),
        TopicConfig(name="Russia", keywords=["Russia", "Russian", "St Petersburg", "Moscow"],
                    description="business in Russia"),
        TopicConfig(name="Earnings", keywords=["profit", "profits", "sales", "net sales", "earnings", "revenue",
                                               "revenues", "turnover", "net loss", "operating loss", "EPS"],
                    description="company results: profits, sales and earnings"),
    ]


class FinSentimentConfig(StrictModel):
    """The ``finsentiment`` section, validated (unknown keys are errors); every field has a default, so the
    monitor runs on the demo feeds with no file at all. Read it with ``load_config``."""

    feeds: List[FeedConfig] = Field(default_factory=_default_feeds)
    demo_dir: str = str(DEMO_DIR)
    """Where the demo story's feeds are rendered (data/feeds/story.csv, dated from the first run)."""
    topics: List[TopicConfig] = Field(default_factory=_default_topics)
    alerts: AlertRule = Field(default_factory=AlertRule)
    recipients: List[str] = ["analyst@localhost"]
    notifier: Literal["outbox", "smtp"] = "outbox"
    """``outbox`` writes each mail as an .eml file under ``outbox_dir`` (the offline default)."""
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    outbox_dir: str = str(ROOT / "var" / "finsentiment" / "outbox")
    database_url: str = "sqlite:///" + str(ROOT / "var" / "finsentiment" / "finsentiment.db")
    model_dir: str = str(ROOT / "var" / "models" / "phrasebank")
    backend: Literal["auto", "torch", "onnx"] = "auto"
    threads: Optional[int] = Field(None, ge=1)
    batch_size: int = Field(32, ge=1)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    poll_interval_s: float = Field(900.0, gt=0)
    misfire_grace_s: int = Field(300, ge=1)
    max_items_per_feed: int = Field(1000, ge=1)

    @validator("topics")
    def _unique_topics(cls, topics):
        names = [t.name for t in topics]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate topic names: {', '.join(duplicates)}")
        return topics

    @validator("feeds")
    def _unique_feeds(cls, feeds):
        urls = [f.url for f in feeds]
        duplicates = sorted({u for u in urls if urls.count(u) > 1})
        if duplicates:
            raise ValueError(f"duplicate feed urls: {', '.join(duplicates)}")
        return feeds

    def topic(self, name: str) -> TopicConfig:
        for topic in self.topics:
            if topic.name.lower() == name.lower():
                return topic
        raise ConfigError(f"unknown topic '{name}'; configured: {', '.join(t.name for t in self.topics)}")


def load_config(path=None, environ=None) -> FinSentimentConfig:
    """The ``finsentiment`` section of ``path`` / $NLPSUITE_CONFIG / ./nlpsuite.yml, or the defaults."""
    return load_section(SECTION, FinSentimentConfig, path, environ=environ)
