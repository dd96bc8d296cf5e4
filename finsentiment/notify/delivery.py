"""The delivery state of alerts: the only place that changes it.

``deliver_pending`` claims an alert (``sending``) before it sends it, so two pollers never
send one alert twice; it marks it ``sent`` once a server accepted it (and only then does the
topic count as notified, for the repeat interval); a permanent refusal marks it ``failed`` with
the reason, not retried until the mail settings change (``mail_settings_fingerprint``); a
resolved mail never leaves before the firing mail of its spike.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from typing import Callable

from sqlalchemy import select, update

from finsentiment.config import FinSentimentConfig
from finsentiment.notify.render import message_for
from finsentiment.notify.transports import Notifier, NotifyError
from finsentiment.store import CLAIM_LEASE, FAILED, FIRING, PENDING, SENDING, SENT, Alert, Store, utcnow

logger = logging.getLogger("finsentiment.notify")


def mail_settings_fingerprint(config: FinSentimentConfig) -> str:
    """What decides whether a refused mail could go through now: server, login, sender, recipients."""
    smtp = config.smtp
    settings = {"notifier": config.notifier, "host": smtp.host, "port": smtp.port, "user": smtp.user,
                "password_env": smtp.password_env, "sender": smtp.sender, "recipients": sorted(config.recipients),
                "ssl": smtp.ssl, "starttls": smtp.starttls, "ca_file": smtp.ca_file, "outbox": config.outbox_dir}
    if smtp.user:  # a new password is a change too; stored only as a slow, salted digest
        password = (os.environ.get(smtp.password_env) or "").encode()
        settings["password"] = hashlib.pbkdf2_hmac("sha256", password, b"nlpsuite-mail-settings", 20_000).hex()
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _deliverable(session, alert: Alert) -> bool:
    """A resolved mail waits until the firing mail of its spike has been accepted."""
    if alert.kind == FIRING:
        return True
    firing = session.execute(select(Alert.status).where(Alert.group_key == alert.group_key, Alert.kind == FIRING,
                                                        Alert.id < alert.id)).scalars().all()
    return all(status == SENT for status in firing)


def _mark_notified(session, alert: Alert, when) -> None:
    from finsentiment.store import TopicState

    state = session.get(TopicState, alert.topic)
    if state is not None and alert.kind == FIRING and state.group_key == alert.group_key:
        state.last_notified = when


def _claimable(fingerprint: str, now):
    """Alerts to send now: pending, failed under other mail settings, or claimed by a sender
    that has not finished within the lease (killed between the server's accept and the commit:
    sent again with the same Message-ID, which the mail client folds into one)."""
    return ((Alert.status == PENDING) | ((Alert.status == FAILED) & (Alert.failed_config != fingerprint))
            | ((Alert.status == SENDING) & (Alert.claimed_at < now - CLAIM_LEASE)))


def _claim(store: Store, alert_id: int, fingerprint: str, now) -> bool:
    """Mark one alert ``sending`` in one UPDATE: of two pollers, exactly one gets it."""
    with store.engine.begin() as connection:
        claimed = connection.execute(update(Alert.__table__).where(Alert.id == alert_id, _claimable(fingerprint, now))
                                     .values(status=SENDING, claimed_at=now))
        return claimed.rowcount == 1


def deliver_pending(store: Store, notifier: Notifier, config: FinSentimentConfig,
                    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], object] = utcnow) -> dict:
    """Send every pending alert, oldest first, with ``smtp.retries`` tries each; alerts that
    failed for good are tried again only under other mail settings. Each alert is claimed
    before it is sent, and an unexpected error on one is logged and leaves it pending for the
    next round: it never stops the rest of the queue."""
    sent = failed = 0
    fingerprint = mail_settings_fingerprint(config)
    with store.session() as session:
        ids = list(session.execute(select(Alert.id).where(_claimable(fingerprint, clock())).order_by(Alert.id))
                   .scalars())
    for alert_id in ids:
        with store.session() as session:
            alert = session.get(Alert, alert_id)
            if alert.status == SENT or not _deliverable(session, alert):
                continue
        if not _claim(store, alert_id, fingerprint, clock()):
            continue  # another poller has it
        try:
            with store.session() as session:
                alert = session.get(Alert, alert_id)
                outcome = _send_with_retries(store, session, alert, notifier, config, fingerprint, sleep, clock)
        except Exception as exc:  # a bug or a broken row: this alert waits, the queue goes on
            logger.exception("alert %d: unexpected error, left pending for the next round", alert_id)
            _release(store, alert_id, f"{type(exc).__name__}: {exc}")
            outcome = False
        sent, failed = sent + outcome, failed + (not outcome)
    return {"sent": sent, "failed": failed}


def _release(store: Store, alert_id: int, error: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(update(Alert.__table__).where(Alert.id == alert_id, Alert.status == SENDING)
                           .values(status=PENDING, last_error=error[:2000]))


def _send_with_retries(store: Store, session, alert: Alert, notifier: Notifier, config: FinSentimentConfig, fingerprint: str,
                       sleep, clock) -> bool:
    """Try one claimed alert up to ``smtp.retries`` times; its new status is committed after each try."""
    message = message_for(store, session, alert, config)
    delay = config.smtp.backoff_s
    for attempt in range(config.smtp.retries):
        alert.attempts += 1
        try:
            notifier.send(message)
        except NotifyError as exc:
            alert.last_error = str(exc)
            if not exc.retryable:
                alert.status, alert.failed_config = FAILED, fingerprint
                logger.error("alert %d (%s): refused for good, not retried until the mail settings "
                             "change: %s", alert.id, alert.topic, exc)
                session.commit()
                return False
            logger.warning("alert %d (%s): try %d of %d failed: %s", alert.id, alert.topic,
                           attempt + 1, config.smtp.retries, exc)
            alert.status = PENDING if attempt + 1 == config.smtp.retries else SENDING
            session.commit()
            if attempt + 1 < config.smtp.retries:
                sleep(delay)
                delay *= 2
            continue
        now = clock()
        alert.status, alert.sent_at, alert.last_error, alert.failed_config = SENT, now, None, None
        _mark_notified(session, alert, now)
        session.commit()
        logger.info("alert %d (%s %s) sent to %s", alert.id, alert.topic, alert.kind, ", ".join(config.recipients))
        return True
    return False
