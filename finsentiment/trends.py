"""Negative sentiment per topic over time: rolling windows, the topic's own baseline, and charts.

A spike is judged against the topic itself, not a global constant: a sector that is usually
gloomy (say, 35 % negative headlines) should not alert every day, while a company that is
rarely criticised should alert when a third of its news turns negative.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Optional

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from finsentiment.config import AlertRule
from finsentiment.store import Article, Score, TopicAssignment, TopicHistory

NEGATIVE = "negative"


@dataclass
class WindowStats:
    """A topic's scored articles with start <= event_time < end, plus backfilled history for the whole days
    that have no live article; ``negative_share`` is 0.0 for an empty window."""

    topic: str
    start: datetime
    end: datetime
    n_items: int
    n_negative: int

    @property
    def negative_share(self) -> float:
        return self.n_negative / self.n_items if self.n_items else 0.0


@dataclass
class TopicTrend:
    """The current window compared with the baseline period before it."""

    window: WindowStats
    baseline_window: WindowStats
    baseline: float
    """The baseline negative share (the rule's default while history is too short)."""
    spike: bool

    @property
    def deviation(self) -> float:
        return self.window.negative_share - self.baseline


def _live_days(session: Session, topic: str, start: datetime, end: datetime) -> set:
    rows = session.execute(
        select(func.date(Article.event_time)).distinct()
        .join(TopicAssignment, TopicAssignment.article_id == Article.id)
        .where(TopicAssignment.topic == topic, Article.event_time >= start, Article.event_time < end)
    ).all()
    return {date.fromisoformat(str(day)) for (day,) in rows if day}


def history_days(session: Session, topic: str, start: datetime, end: datetime) -> list[TopicHistory]:
    """The backfilled days of ``topic`` wholly inside [start, end) that have no live article
    of the topic (a day is counted from live articles or from history, never both)."""
    first = start.date() if start.time() == time.min else start.date() + timedelta(days=1)
    last = end.date()  # exclusive: the day ``end`` falls in is not whole
    rows = session.execute(select(TopicHistory).where(TopicHistory.topic == topic, TopicHistory.day >= first,
                                                      TopicHistory.day < last)).scalars().all()
    if not rows:
        return []
    live = _live_days(session, topic, start, end)
    return [row for row in rows if row.day not in live]


def window_stats(session: Session, topic: str, start: datetime, end: datetime) -> WindowStats:
    """Scored articles of ``topic`` with start <= event_time < end, plus backfilled history for
    the whole days in that span that have no live article (``finsentiment backfill``)."""
    negative = func.sum(case((Score.label == NEGATIVE, 1), else_=0))
    row = session.execute(
        select(func.count(Article.id), negative)
        .join(Score, Score.article_id == Article.id)
        .join(TopicAssignment, TopicAssignment.article_id == Article.id)
        .where(TopicAssignment.topic == topic, Article.event_time >= start, Article.event_time < end)
    ).one()
    history = history_days(session, topic, start, end)
    return WindowStats(topic, start, end, int(row[0] or 0) + sum(h.n_items for h in history),
                       int(row[1] or 0) + sum(h.n_negative for h in history))


def topic_trend(session: Session, topic: str, rule: AlertRule, now: datetime) -> TopicTrend:
    """The topic's current window (``rule.window_hours`` up to ``now``, inclusive) against its baseline (the
    ``baseline_days`` before it; ``default_baseline`` while those hold under ``min_items`` articles), and
    ``spike`` as the rule judges it: what the alerts, the report and the web page all go by."""
    end = now + timedelta(seconds=1)  # include articles stamped "now"
    start = end - timedelta(hours=rule.window_hours)
    window = window_stats(session, topic, start, end)
    history = window_stats(session, topic, start - timedelta(days=rule.baseline_days), start)
    baseline = history.negative_share if history.n_items >= rule.min_items else rule.default_baseline
    share = window.negative_share
    spike = (window.n_items >= rule.min_items and share >= rule.negative_share
             and share - baseline >= rule.min_deviation)
    return TopicTrend(window, history, baseline, spike)


def negative_articles(session: Session, topic: str, start: datetime, end: datetime, limit: int) -> list[Article]:
    """The window's negative articles, most confidently negative first: the headlines of an alert."""
    return list(session.execute(
        select(Article).join(Score, Score.article_id == Article.id)
        .join(TopicAssignment, TopicAssignment.article_id == Article.id)
        .where(TopicAssignment.topic == topic, Score.label == NEGATIVE,
               Article.event_time >= start, Article.event_time < end + timedelta(seconds=1))
        .order_by(Score.p_negative.desc(), Article.id).limit(limit)
    ).scalars())


@dataclass
class SeriesPoint:
    """One time bucket of a topic's chart and report table: its scored articles from ``start`` on (UTC)."""

    start: datetime
    n_items: int
    n_negative: int
    n_positive: int

    @property
    def negative_share(self) -> float:
        return self.n_negative / self.n_items if self.n_items else 0.0


def series(session: Session, topic: str, end: datetime, days: float, bucket_hours: Optional[float] = None) -> list[SeriesPoint]:
    """Counts per time bucket (a day by default; hours for short spans) over the last ``days``."""
    bucket = timedelta(hours=bucket_hours or (24 if days >= 3 else max(1, days * 24 / 12)))
    # Buckets start at round times (midnight for days), so the table reads naturally.
    start = datetime.min + ((end - timedelta(days=days) - datetime.min) // bucket) * bucket
    rows = session.execute(
        select(Article.event_time, Score.label)
        .join(Score, Score.article_id == Article.id)
        .join(TopicAssignment, TopicAssignment.article_id == Article.id)
        .where(TopicAssignment.topic == topic, Article.event_time >= start, Article.event_time <= end)
    ).all()
    n_buckets = max(1, int((end - start) / bucket + 0.999))
    points = [SeriesPoint(start + i * bucket, 0, 0, 0) for i in range(n_buckets)]
    for when, label in rows:
        i = min(n_buckets - 1, int((when - start) / bucket))
        points[i].n_items += 1
        points[i].n_negative += label == NEGATIVE
        points[i].n_positive += label == "positive"
    if bucket >= timedelta(days=1):  # backfilled days (whole days only: daily buckets)
        for row in history_days(session, topic, start, end + timedelta(days=1)):
            i = int((datetime.combine(row.day, time.min) - start) / bucket)
            if 0 <= i < n_buckets:
                points[i].n_items += row.n_items
                points[i].n_negative += row.n_negative
                points[i].n_positive += row.n_positive
    return points


def chart_png(topic: str, points: list[SeriesPoint], threshold: Optional[float] = None,
              baseline: Optional[float] = None) -> bytes:
    """Negative share (line) over article counts (bars) as a PNG, for mails, reports and the web page."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    try:
        step = (points[1].start - points[0].start) if len(points) > 1 else timedelta(days=1)
        xs = [p.start + step / 2 for p in points]  # bars and points at the middle of their bucket
        width = step * 0.8
        counts = ax.twinx()
        counts.bar(xs, [p.n_items for p in points], width=width, color="#d0d7e2", label="articles", zorder=0)
        counts.set_ylabel("articles")
        ax.set_zorder(counts.get_zorder() + 1)
        ax.patch.set_visible(False)
        ax.plot(xs, [p.negative_share if p.n_items else float("nan") for p in points], marker="o", color="#c0392b", label="negative share")
        if threshold is not None:
            ax.axhline(threshold, color="#c0392b", linestyle="--", linewidth=1, label="alert threshold")
        if baseline is not None:
            ax.axhline(baseline, color="#7f8c8d", linestyle=":", linewidth=1, label="baseline")
        ax.set_ylim(0, 1)
        ax.set_ylabel("negative share")
        ax.set_title(f"{topic}: negative sentiment")
        ax.legend(loc="upper left", fontsize=8)
        fig.autofmt_xdate()
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)
