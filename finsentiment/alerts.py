"""Turning trends into alerts the way Prometheus Alertmanager does: grouped, deduplicated,
repeated at an interval, and resolved.

Per topic there is at most one spike at a time (a *group*, keyed by topic and start time).
The first evaluation that finds the spike creates a ``firing`` alert; later evaluations during
the same spike create nothing (one story does not send ten mails) until ``repeat_hours`` have
passed since a mail server last accepted one; while its mail is still unsent (an outage), the
waiting alert is brought up to date instead. Starting a spike needs the deviation from the topic's baseline;
staying in it only needs the threshold (hysteresis). When the topic drops back, a ``resolved`` alert closes the group,
and ``cooldown_minutes`` keep a topic that hovers at the threshold from flapping.
Alerts are only rows here; ``finsentiment.notify.delivery`` sends them.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from finsentiment.config import AlertRule, TopicConfig
from finsentiment.store import FAILED, FIRING, PENDING, RESOLVED, Alert, TopicState
from finsentiment.trends import TopicTrend, negative_articles, topic_trend

logger = logging.getLogger(__name__)


def _alert(kind: str, trend: TopicTrend, group_key: str, article_ids: list[int], now: datetime) -> Alert:
    w = trend.window
    return Alert(topic=w.topic, group_key=group_key, kind=kind, window_start=w.start, window_end=w.end,
                 n_items=w.n_items, n_negative=w.n_negative, negative_share=w.negative_share,
                 baseline=trend.baseline, article_ids=json.dumps(article_ids), status=PENDING,
                 attempts=0, created_at=now)


def _unsent_firing(session: Session, group_key: str | None) -> Alert | None:
    """The spike's newest firing alert that no mail server has accepted yet, if any."""
    if not group_key:
        return None
    return session.execute(select(Alert).where(Alert.group_key == group_key, Alert.kind == FIRING,
                                               Alert.status.in_([PENDING, FAILED]))
                           .order_by(Alert.id.desc()).limit(1)).scalars().first()


def _refresh(alert: Alert, trend: TopicTrend, session: Session, topic: str, rule: AlertRule, now: datetime) -> None:
    w = trend.window
    alert.window_start, alert.window_end, alert.n_items, alert.n_negative = w.start, w.end, w.n_items, w.n_negative
    alert.negative_share, alert.baseline = w.negative_share, trend.baseline
    alert.article_ids = json.dumps([a.id for a in negative_articles(session, topic, w.start, now, rule.max_headlines)])


def evaluate_topic(session: Session, topic: str, rule: AlertRule, now: datetime) -> Alert | None:
    """Update the topic's state from its current trend; return the alert to send, if any."""
    trend = topic_trend(session, topic, rule, now)
    state = session.get(TopicState, topic)
    if state is None:
        state = TopicState(topic=topic, firing=False)
        session.add(state)
    # Hysteresis: the deviation from the baseline is needed to *start* a spike; once it fires, it
    # goes on while the share stays above the threshold (during a long spike the baseline catches
    # up with the spike itself, which must not resolve it).
    ongoing = (state.firing and trend.window.n_items >= rule.min_items
               and trend.window.negative_share >= rule.negative_share)
    alert = None
    if trend.spike or ongoing:
        cooling = (not state.firing and state.resolved_at is not None
                   and now - state.resolved_at < timedelta(minutes=rule.cooldown_minutes))
        if not state.firing and not cooling:
            state.firing, state.since = True, now
            state.group_key = f"{topic}@{now.isoformat(timespec='minutes')}"
            ids = [a.id for a in negative_articles(session, topic, trend.window.start, now, rule.max_headlines)]
            alert = _alert(FIRING, trend, state.group_key, ids, now)
        elif state.firing and (unsent := _unsent_firing(session, state.group_key)) is not None:
            # The mail server has not accepted this spike's last mail yet (an outage, or refused
            # for good): bring that one up to date instead of queueing another, so an outage
            # ends in one mail, not one per repeat interval.
            if unsent.status == PENDING:
                _refresh(unsent, trend, session, topic, rule, now)
        elif state.firing and (state.last_notified is None
                               or now - state.last_notified >= timedelta(hours=rule.repeat_hours)):
            ids = [a.id for a in negative_articles(session, topic, trend.window.start, now, rule.max_headlines)]
            alert = _alert(FIRING, trend, state.group_key, ids, now)
        elif cooling:
            logger.info("%s: negative share %.2f is a spike, but the topic is cooling down until %s",
                        topic, trend.window.negative_share,
                        state.resolved_at + timedelta(minutes=rule.cooldown_minutes))
    elif state.firing:
        state.firing, state.resolved_at = False, now
        if rule.send_resolved:
            alert = _alert(RESOLVED, trend, state.group_key or topic, [], now)
    if alert is not None:  # last_notified is stamped when a mail server accepts it (notify/delivery.py)
        session.add(alert)
        session.flush()
        logger.info("alert %d: %s %s (negative share %.2f over %d items, baseline %.2f)", alert.id, topic,
                    alert.kind, alert.negative_share, alert.n_items, alert.baseline)
    return alert


def evaluate_alerts(session: Session, topics: list[TopicConfig], rule: AlertRule, now: datetime) -> list[Alert]:
    """Evaluate every configured topic once (each poll cycle does): the new alerts to send, added to
    ``session`` and flushed; the caller commits, and finsentiment.notify.delivery sends them."""
    alerts = []
    for topic in topics:
        alert = evaluate_topic(session, topic.name, rule, now)
        if alert is not None:
            alerts.append(alert)
    return alerts
