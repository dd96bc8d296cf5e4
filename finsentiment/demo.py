"""The demo story behind `make run`'s alert mail: data/feeds/story.csv rendered as RSS files.

The story (made by data/feeds/make_feeds.py from the PhraseBank test part) holds minutes
relative to the demo's start, not dates, because a monitor counts news by its date: a week of
ordinary headlines, then the topic "Earnings" turning negative in the last three hours. The
first run renders the feeds into ``finsentiment.demo_dir`` with dates counted back from that
moment and remembers it (``anchor.txt``), so later runs serve the same items with the same
dates. `nlpsuite finsentiment demo-resolve` releases the story's last part, good results dated
when released, so the next poll cycle resolves the alert.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from finsentiment.config import ROOT, FinSentimentConfig

logger = logging.getLogger(__name__)
STORY = ROOT / "data" / "feeds" / "story.csv"
ANCHOR, RESOLVED = "anchor.txt", "resolved.txt"


@dataclass(frozen=True)
class StoryItem:
    """One headline of the demo story (a row of data/feeds/story.csv): ``minutes``, not a date, because
    ``render`` dates it from the demo's first run, so the story is fresh whenever a demo starts."""

    phase: str
    """history, spike or resolve."""
    feed: str
    minutes: int
    """Minutes after the demo's start (negative: before it); resolve items: after their release."""
    guid: str
    title: str


def load_story(path: Path = STORY) -> list[StoryItem]:
    """The demo story's rows in file order (data/feeds/story.csv unless ``path`` is given)."""
    with path.open(encoding="utf-8", newline="") as f:
        return [StoryItem(r["phase"], r["feed"], int(r["minutes"]), r["guid"], r["title"]) for r in csv.DictReader(f)]


def _rss(name: str, items: list[tuple[datetime, StoryItem]]) -> str:
    body = "".join(
        f"    <item>\n      <title>{escape(item.title)}</title>\n"
        f"      <guid isPermaLink=\"false\">{escape(item.guid)}</guid>\n"
        f"      <pubDate>{format_datetime(when)}</pubDate>\n    </item>\n"
        for when, item in sorted(items, key=lambda pair: pair[0], reverse=True))
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\">\n  <channel>\n"
            f"    <title>{escape(name)} (nlpsuite demo: Financial PhraseBank test part)</title>\n"
            "    <link>https://huggingface.co/datasets/takala/financial_phrasebank</link>\n"
            "    <description>Demo feed for nlpsuite finsentiment; sentences by Malo et al. 2014, CC BY-NC-SA 3.0"
            f"</description>\n{body}  </channel>\n</rss>\n")


def _read_time(path: Path) -> datetime | None:
    return datetime.fromisoformat(path.read_text().strip()) if path.is_file() else None


def render(folder: str | Path, anchor: datetime, resolved: datetime | None = None,
           story: list[StoryItem] | None = None) -> list[Path]:
    """Write one RSS file per feed of the story into ``folder``; the resolve part only when
    ``resolved`` (its release time) is given."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_feed: dict[str, list] = {}
    for item in story or load_story():
        if item.phase == "resolve" and resolved is None:
            continue
        start = resolved if item.phase == "resolve" else anchor
        by_feed.setdefault(item.feed, []).append((start + timedelta(minutes=item.minutes), item))
    written = []
    for name, items in sorted(by_feed.items()):
        path = folder / f"{name}.xml"
        temporary = path.with_suffix(".xml.tmp")
        temporary.write_text(_rss(name, items), encoding="utf-8")
        temporary.replace(path)  # a poll never reads half a feed
        written.append(path)
    return written


def _uses_demo(config: FinSentimentConfig) -> bool:
    folder = Path(config.demo_dir).resolve()
    return any(Path(feed.url).resolve().parent == folder for feed in config.feeds if "://" not in feed.url)


def ensure_demo_feeds(config: FinSentimentConfig, now: datetime | None = None) -> bool:
    """Render the demo feeds when the config reads them and they are not there yet; True if rendered."""
    if not _uses_demo(config):
        return False
    folder = Path(config.demo_dir)
    missing = [f for f in config.feeds if not Path(f.url).is_file()]
    anchor = _read_time(folder / ANCHOR)
    if anchor is not None and not missing:
        return False
    if anchor is None:
        anchor = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ANCHOR).write_text(anchor.isoformat() + "\n")
    render(folder, anchor, _read_time(folder / RESOLVED))
    logger.info("demo feeds rendered in %s (story starting %s)", folder, anchor.isoformat())
    return True


def release_resolution(config: FinSentimentConfig, now: datetime | None = None) -> list[Path]:
    """Add the story's good news (dated ``now``) to the demo feeds: the next cycle resolves the
    alert. Returns the files written, none when the config does not read the demo feeds."""
    if not _uses_demo(config):
        return []
    ensure_demo_feeds(config, now)
    folder = Path(config.demo_dir)
    resolved = _read_time(folder / RESOLVED)
    if resolved is None:
        resolved = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        (folder / RESOLVED).write_text(resolved.isoformat() + "\n")
    return render(folder, _read_time(folder / ANCHOR), resolved)
