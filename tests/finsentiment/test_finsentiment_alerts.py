"""Spike detection and Alertmanager-style grouping, with a clock the test moves forward."""
from __future__ import annotations

from datetime import datetime, timedelta

from fin_testlib import Clock, entries_for, rss
from finsentiment.fetching import MemoryFetcher
from finsentiment.monitor import Monitor
from finsentiment.notify import MemoryNotifier
from finsentiment.store import FIRING, RESOLVED, SENT, Alert
from finsentiment.trends import series, topic_trend

T0 = datetime(2024, 3, 4, 9, 0, 0)


def make_monitor(make_config, loaded_sentiment, **overrides):
    fetcher = MemoryFetcher()
    clock = Clock(T0)
    notifier = MemoryNotifier()
    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}], **overrides)
    monitor = Monitor(config, fetcher=fetcher, notifier=notifier, sentiment=loaded_sentiment, clock=clock)
    return monitor, fetcher, clock, notifier


def publish(fetcher: MemoryFetcher, entries):
    fetcher.feeds["mem://wire"] = rss(entries)


def alerts(monitor) -> list[Alert]:
    with monitor.store.session() as s:
        return list(s.query(Alert).order_by(Alert.id))


def test_one_story_one_mail_then_repeat_resolve_and_cooldown(make_config, loaded_sentiment):
    # Without a deviation requirement: this test is about grouping; the baseline has its own test.
    monitor, fetcher, clock, notifier = make_monitor(make_config, loaded_sentiment, alerts={
        "window_hours": 6, "min_items": 4, "negative_share": 0.5, "min_deviation": 0.0,
        "repeat_hours": 12, "cooldown_minutes": 30})
    batch1 = entries_for("negative", 5, "Nokia", "b1") + entries_for("positive", 3, "Nordea", "n1")
    publish(fetcher, batch1)
    report = monitor.poll_once()
    assert (report.alerts, report.sent) == (1, 1)
    first = alerts(monitor)[0]
    assert (first.topic, first.kind, first.status, first.n_items, first.n_negative) == ("Nokia", FIRING, SENT, 5, 5)
    assert len(first.headline_ids) == 5

    # An hour later the story goes on: more negative Nokia items, but the same spike: no mail.
    clock.advance(hours=1)
    publish(fetcher, batch1 + entries_for("negative", 3, "Nokia", "b2"))
    assert monitor.poll_once().alerts == 0
    # Polling again and again changes nothing.
    assert monitor.poll_once().alerts == 0

    # After repeat_hours (12) the spike still goes on (fresh items in the window): one reminder.
    clock.advance(hours=12)
    publish(fetcher, batch1 + entries_for("negative", 5, "Nokia", "b3"))
    assert monitor.poll_once().alerts == 1
    # The window (6 h) empties: resolved.
    clock.advance(hours=7)
    assert monitor.poll_once().alerts == 1
    # A new spike within the cool-down (30 min) is held back, after it a new group starts.
    clock.advance(minutes=10)
    publish(fetcher, batch1 + entries_for("negative", 5, "Nokia", "b4"))
    assert monitor.poll_once().alerts == 0
    clock.advance(minutes=30)
    assert monitor.poll_once().alerts == 1

    rows = alerts(monitor)
    assert [(a.topic, a.kind) for a in rows] == [("Nokia", FIRING), ("Nokia", FIRING), ("Nokia", RESOLVED),
                                                 ("Nokia", FIRING)]
    assert rows[0].group_key == rows[1].group_key == rows[2].group_key != rows[3].group_key
    assert all(a.status == SENT for a in rows) and len(notifier.messages) == 4
    assert "RESOLVED" in notifier.messages[2]["Subject"]


def test_baseline_is_the_topics_own_history(make_config, loaded_sentiment):
    monitor, fetcher, clock, _ = make_monitor(make_config, loaded_sentiment, alerts={
        "window_hours": 6, "min_items": 4, "negative_share": 0.5, "min_deviation": 0.2, "baseline_days": 7})
    # Two days ago, Nokia was 60 % negative: that is its normal.
    clock.now = T0 - timedelta(days=2)
    history = entries_for("negative", 6, "Nokia", "h1") + entries_for("neutral", 4, "Nokia", "h2")
    publish(fetcher, history)
    monitor.poll_once()
    # Today the same 60 % for Nokia is no spike; Nordea (no history) at 60 % is one.
    clock.now = T0
    today = (entries_for("negative", 3, "Nokia", "t1") + entries_for("neutral", 2, "Nokia", "t2")
             + entries_for("negative", 3, "Nordea", "t3") + entries_for("neutral", 2, "Nordea", "t4"))
    publish(fetcher, history + today)
    monitor.poll_once()
    with monitor.store.session() as s:
        nokia = topic_trend(s, "Nokia", monitor.config.alerts, T0)
        banks = topic_trend(s, "Banks", monitor.config.alerts, T0)
        points = series(s, "Nokia", T0, days=3)
    assert nokia.baseline_window.n_items == 10 and abs(nokia.baseline - 0.6) < 1e-9
    assert nokia.window.n_items == 5 and abs(nokia.window.negative_share - 0.6) < 1e-9 and not nokia.spike
    assert banks.baseline == monitor.config.alerts.default_baseline and banks.spike
    assert sum(p.n_items for p in points) == 15 and sum(p.n_negative for p in points) == 9
    assert [(a.topic, a.kind) for a in alerts(monitor)][-1] == ("Banks", FIRING)


def test_too_few_items_never_fire(make_config, loaded_sentiment):
    monitor, fetcher, _, _ = make_monitor(make_config, loaded_sentiment)
    publish(fetcher, entries_for("negative", 3, "Nokia", "few"))  # min_items is 4
    assert monitor.poll_once().alerts == 0
