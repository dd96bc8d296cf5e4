"""`finsentiment backfill`: an archive scored on Spark local[2], topics by the monitor's own rules,
daily counts from Spark SQL loaded into the monitor's database; the trends then count them as
history (the baseline of an alert rule) and never for a day with live articles."""
from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta

import pytest

pytest.importorskip("pyspark")

from fin_testlib import headline  # noqa: E402

pytestmark = pytest.mark.timeout(300)


def _archive(path, days=6, per_day=12, seed=3):
    rng = random.Random(seed)
    rows, start = [], datetime(2025, 3, 1, 9, 0)
    for d in range(days):
        for n in range(per_day):
            label = rng.choice(["negative", "neutral", "positive"])
            company = rng.choice(["Nokia", "Nordea", "Fortum"])
            when = start + timedelta(days=d, minutes=37 * n)
            stamp = when.isoformat() if n % 2 else int((when - datetime(1970, 1, 1)).total_seconds())
            rows.append({"id": f"a{d}-{n}", "published": stamp, "title": headline(label, company, rng)})
    lines = [json.dumps(r) for r in rows] + ['{"id": "bad-1", "published": "2025-03-02T10:00:00", "title": ""}',
                                              "not json"]
    path.write_text("\n".join(lines) + "\n")
    return rows


def test_backfill_loads_daily_history_that_trends_count(tmp_path, make_config, loaded_sentiment):
    from finsentiment.backfill import backfill
    from finsentiment.classify import TopicMatcher
    from finsentiment.store import Store, TopicHistory
    from finsentiment.trends import series, window_stats

    config = make_config()
    rows = _archive(tmp_path / "archive.jsonl")
    summary = backfill(config, str(tmp_path / "archive.jsonl"), master="local[2]", work_dir=tmp_path / "work")
    assert summary["rows_in"] == len(rows) + 2 and summary["rows_scored"] == len(rows)
    assert summary["rows_rejected"] == 2 and summary["first_day"] == "2025-03-01"

    # the same counts computed here, row by row, with the monitor's own model and rules
    labels = [s.label for s in loaded_sentiment.classify([r["title"] for r in rows])]
    matcher = TopicMatcher(config.topics)
    expected: dict = {}
    for row, label, matches in zip(rows, labels, matcher.match([r["title"] for r in rows])):
        stamp = row["published"]
        day = (datetime.fromisoformat(stamp) if isinstance(stamp, str) else datetime(1970, 1, 1) +
               timedelta(seconds=stamp)).date()
        for match in matches:
            n, neg = expected.get((match.topic, day), (0, 0))
            expected[(match.topic, day)] = (n + 1, neg + (label == "negative"))
    store = Store(config.database_url)
    with store.session() as db:
        loaded = {(h.topic, h.day): (h.n_items, h.n_negative) for h in db.query(TopicHistory)}
        assert loaded == expected and len(loaded) >= 6
        nokia = [h for h in db.query(TopicHistory).filter_by(topic="Nokia")]
        # a 7-day baseline before go-live is made of the history alone
        stats = window_stats(db, "Nokia", datetime(2025, 3, 1), datetime(2025, 3, 8))
        assert stats.n_items == sum(h.n_items for h in nokia) and stats.n_negative == sum(h.n_negative for h in nokia)
        # a window that does not cover a whole day counts no history
        assert window_stats(db, "Nokia", datetime(2025, 3, 2, 8), datetime(2025, 3, 2, 20)).n_items == 0
        points = series(db, "Nokia", datetime(2025, 3, 7), days=7)
        assert sum(p.n_items for p in points) == stats.n_items
    # a second backfill of the same days replaces, never adds
    backfill(config, str(tmp_path / "archive.jsonl"), master="local[2]", work_dir=tmp_path / "work")
    with store.session() as db:
        assert {(h.topic, h.day): (h.n_items, h.n_negative) for h in db.query(TopicHistory)} == expected
    store.dispose()


def test_a_day_with_live_articles_ignores_its_history(tmp_path, make_config):
    from finsentiment.store import Article, Feed, Score, Store, TopicAssignment, TopicHistory
    from finsentiment.trends import window_stats

    config = make_config()
    store = Store(config.database_url)
    with store.session() as db:
        for day, n in ((date(2025, 3, 1), 10), (date(2025, 3, 2), 20)):
            db.add(TopicHistory(topic="Nokia", day=day, n_items=n, n_negative=n // 2, n_positive=0,
                                source="archive", loaded_at=datetime(2025, 4, 1)))
        feed = Feed(url="http://feed", name="feed")
        db.add(feed)
        db.flush()
        when = datetime(2025, 3, 2, 12)
        article = Article(key="k1", feed_id=feed.id, title="Nokia profit falls", fetched_at=when, event_time=when)
        db.add(article)
        db.flush()
        db.add(Score(article_id=article.id, model_version="m", label="negative", confidence=0.9, p_negative=0.9,
                     probabilities="{}", scored_at=when))
        db.add(TopicAssignment(article_id=article.id, topic="Nokia", method="keyword"))
    with store.session() as db:
        stats = window_stats(db, "Nokia", datetime(2025, 3, 1), datetime(2025, 3, 3))
        assert (stats.n_items, stats.n_negative) == (10 + 1, 5 + 1)  # 1 March from history, 2 March live
    store.dispose()
