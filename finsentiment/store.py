"""The monitor's state in one SQL database (SQLite by default) through SQLAlchemy 1.4's ORM.

Everything a poll does is recorded so that any step can be repeated safely:
articles are unique by a hash of guid/link (polling twice adds nothing); a score row exists
only once the article was classified, so articles left unscored by a crash between fetching
and scoring are found and scored by the next run; an alert stays ``pending`` until a send
succeeds. Times are naive UTC datetimes.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator, Optional

from sqlalchemy import (Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint,
                        func, inspect, select, text)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, declarative_base, relationship, sessionmaker

from shared.sqlite import create_tables, engine as sqlite_engine

Base = declarative_base()

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
"""pending: not accepted by a mail server yet (new, or a retryable failure: tried again next round);
sending: claimed by one poller, which is sending it now;
sent: accepted; failed: refused for good (wrong password, rejected recipient, 5xx), not tried
again until the mail settings change (``failed_config``)."""
FIRING, RESOLVED = "firing", "resolved"
CLAIM_LEASE = timedelta(minutes=10)
"""How long a ``sending`` claim holds: a sender killed mid-send leaves its alert to the next
poller after this (sent again with the same Message-ID)."""


def utcnow() -> datetime:
    """Now as naive UTC to the second, the store's time convention; the monitor's and delivery's default
    clock."""
    return datetime.utcnow().replace(microsecond=0)


class Feed(Base):
    """A configured feed's polling state, one row per URL: the cache validators sent with the next fetch,
    and the errors and degradation the web page's feeds table shows."""

    __tablename__ = "feeds"
    id = Column(Integer, primary_key=True)
    url = Column(String(2000), unique=True, nullable=False)
    name = Column(String(200), nullable=False)
    etag = Column(String(500))
    modified = Column(String(100))
    last_polled = Column(DateTime)
    last_status = Column(Integer)
    last_error = Column(Text)
    error_count = Column(Integer, default=0, nullable=False)
    """All failed polls so far."""
    consecutive_errors = Column(Integer, default=0, nullable=False)
    items_seen = Column(Integer, default=0, nullable=False)
    degraded = Column(Text)
    """Why the last poll found the feed not well-formed (its items were still read); None when clean."""


class Article(Base):
    """A fetched headline, stored once (unique ``key``, a hash of its guid, link or title); trends count it at
    ``event_time``, and ``text`` is what the classifiers read."""

    __tablename__ = "articles"
    id = Column(Integer, primary_key=True)
    key = Column(String(64), unique=True, nullable=False)
    feed_id = Column(Integer, ForeignKey("feeds.id"), nullable=False)
    guid = Column(String(2000))
    link = Column(String(2000))
    title = Column(Text, nullable=False)
    summary = Column(Text)
    published = Column(DateTime)
    fetched_at = Column(DateTime, nullable=False, index=True)
    event_time = Column(DateTime, nullable=False, index=True)
    """published when known and not in the future, else fetched_at: the time trends count by."""
    feed = relationship(Feed)
    score = relationship("Score", uselist=False, back_populates="article")
    topics = relationship("TopicAssignment", back_populates="article")

    @property
    def text(self) -> str:
        return self.title if not self.summary or self.summary == self.title else f"{self.title}. {self.summary}"


class Score(Base):
    """An article's sentiment, written only once it is classified (an article without one is scored by the
    next cycle); ``model_version`` names the model that gave it."""

    __tablename__ = "scores"
    article_id = Column(Integer, ForeignKey("articles.id"), primary_key=True)
    model_version = Column(String(200), nullable=False)
    label = Column(String(50), nullable=False)
    confidence = Column(Float, nullable=False)
    p_negative = Column(Float, nullable=False)
    probabilities = Column(Text, nullable=False)
    """JSON {label: calibrated probability}."""
    scored_at = Column(DateTime, nullable=False)
    article = relationship(Article, back_populates="score")

    @property
    def probs(self) -> dict:
        return json.loads(self.probabilities)


class TopicAssignment(Base):
    """That an article belongs to a topic, and how that was found (keyword, ticker, embedding); at most one
    row per article and topic."""

    __tablename__ = "topic_assignments"
    __table_args__ = (UniqueConstraint("article_id", "topic"),)
    id = Column(Integer, primary_key=True)
    article_id = Column(Integer, ForeignKey("articles.id"), nullable=False, index=True)
    topic = Column(String(200), nullable=False, index=True)
    method = Column(String(20), nullable=False)
    """keyword, ticker or embedding."""
    score = Column(Float, nullable=False, default=1.0)
    article = relationship(Article, back_populates="topics")


class Alert(Base):
    """One mail about a topic's spike, firing or resolved: created by finsentiment.alerts; its delivery
    ``status`` is changed only by finsentiment.notify.delivery."""

    __tablename__ = "alerts"
    id = Column(Integer, primary_key=True)
    topic = Column(String(200), nullable=False, index=True)
    group_key = Column(String(300), nullable=False, index=True)
    """topic plus the start of the spike: all mails about one spike share it."""
    kind = Column(String(20), nullable=False)
    """firing or resolved."""
    window_start = Column(DateTime, nullable=False)
    window_end = Column(DateTime, nullable=False)
    n_items = Column(Integer, nullable=False)
    n_negative = Column(Integer, nullable=False)
    negative_share = Column(Float, nullable=False)
    baseline = Column(Float, nullable=False)
    article_ids = Column(Text, nullable=False, default="[]")
    """JSON list of the headlines that caused it, most negative first."""
    status = Column(String(20), nullable=False, default=PENDING, index=True)
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(Text)
    failed_config = Column(Text)
    claimed_at = Column(DateTime)
    """When a poller claimed it for sending (status ``sending``)."""
    """Fingerprint of the mail settings under which it failed for good; other settings retry it."""
    created_at = Column(DateTime, nullable=False)
    sent_at = Column(DateTime)

    @property
    def headline_ids(self) -> list[int]:
        return json.loads(self.article_ids or "[]")


class TopicState(Base):
    """Per topic: is a spike going on, since when, and when it was last mailed."""

    __tablename__ = "topic_state"
    topic = Column(String(200), primary_key=True)
    firing = Column(Boolean, nullable=False, default=False)
    since = Column(DateTime)
    group_key = Column(String(300))
    last_notified = Column(DateTime)
    resolved_at = Column(DateTime)


class TopicHistory(Base):
    """A topic's scored headlines per day from an archive (``finsentiment backfill``): the
    history the dashboard charts and the alert baselines count before live polling began.
    A day that has live articles of the topic counts those instead (never both)."""

    __tablename__ = "topic_history"
    __table_args__ = (UniqueConstraint("topic", "day"),)
    id = Column(Integer, primary_key=True)
    topic = Column(String(200), nullable=False, index=True)
    day = Column(Date, nullable=False, index=True)
    n_items = Column(Integer, nullable=False)
    n_negative = Column(Integer, nullable=False)
    n_positive = Column(Integer, nullable=False, default=0)
    source = Column(Text, nullable=False)
    """The archive it was computed from."""
    loaded_at = Column(DateTime, nullable=False)


class SchedulerLeader(Base):
    """Which monitor process holds the scheduler lock, since when (one row per lock)."""

    __tablename__ = "scheduler_leader"
    name = Column(String(100), primary_key=True)
    holder = Column(String(300), nullable=False)
    """host:pid of the active monitor."""
    pid = Column(Integer, nullable=False)
    since = Column(DateTime, nullable=False)


def _prepare_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class Store:
    """Engine, sessions and the queries the rest of the monitor needs."""

    def __init__(self, url: str):
        _prepare_sqlite_folder(url)
        self.url = url
        self.engine = sqlite_engine(url, foreign_keys=True)  # the scheduler's job store shares the file
        create_tables(Base.metadata, self.engine)
        self._add_missing_columns()
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)

    def _add_missing_columns(self) -> None:
        """Columns added since a database was created (create_all adds tables, not columns)."""
        for table, name, kind in (("alerts", "failed_config", "TEXT"), ("alerts", "claimed_at", "DATETIME"),
                                  ("feeds", "degraded", "TEXT")):
            if name not in {c["name"] for c in inspect(self.engine).get_columns(table)}:
                with self.engine.begin() as connection:
                    connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def feed(self, session: Session, url: str, name: str) -> Feed:
        feed = session.execute(select(Feed).where(Feed.url == url)).scalar_one_or_none()
        if feed is None:
            feed = Feed(url=url, name=name, error_count=0, consecutive_errors=0, items_seen=0)
            session.add(feed)
            session.flush()
        return feed

    def add_articles(self, session: Session, feed: Feed, items, now: Optional[datetime] = None) -> int:
        """Insert the items not stored yet; returns how many were new."""
        now = now or utcnow()
        keys = {item.key for item in items}
        existing = set()
        key_list = list(keys)
        for start in range(0, len(key_list), 500):
            chunk = key_list[start:start + 500]
            existing |= set(session.execute(select(Article.key).where(Article.key.in_(chunk))).scalars())
        added = 0
        for item in items:
            if item.key in existing:
                continue
            existing.add(item.key)
            published = item.published
            event_time = published if published and published <= now else now
            session.add(Article(key=item.key, feed_id=feed.id, guid=item.guid, link=item.link,
                                title=item.title, summary=item.summary, published=published,
                                fetched_at=now, event_time=event_time))
            added += 1
        return added

    def unscored(self, session: Session, limit: Optional[int] = None) -> list[Article]:
        query = select(Article).outerjoin(Score).where(Score.article_id.is_(None)).order_by(Article.id)
        if limit:
            query = query.limit(limit)
        return list(session.execute(query).scalars())

    def counts(self) -> dict:
        with self.session() as s:
            return {name: s.execute(select(func.count()).select_from(model)).scalar_one()
                    for name, model in (("feeds", Feed), ("articles", Article), ("scores", Score),
                                        ("topic_assignments", TopicAssignment), ("alerts", Alert))}

    def recent_alerts(self, limit: int = 20) -> list[Alert]:
        with self.session() as s:
            return list(s.execute(select(Alert).order_by(Alert.id.desc()).limit(limit)).scalars())

    def articles_by_id(self, session: Session, ids: list[int]) -> list[Article]:
        if not ids:
            return []
        rows = {a.id: a for a in session.execute(select(Article).where(Article.id.in_(ids))).scalars()}
        return [rows[i] for i in ids if i in rows]

    def dispose(self) -> None:
        self.engine.dispose()
