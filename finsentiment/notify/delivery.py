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


def _claimable(fingerprint: str, now):
    """Alerts to send now: pending, failed under other mail settings, or claimed by a sender
    that has not finished within the lease (killed between the server's accept and the commit:
    sent again with the same Message-ID, which the mail client folds into one)."""
    return ((Alert.status == PENDING) | ((Alert.status == FAILED) & (Alert.failed_config != fingerprint))
            | ((Alert.status == SENDING) & (Alert.claimed_at < now - CLAIM_LEASE)))


def deliver_pending(store: Store, notifier: Notifier, config: FinSentimentConfig,
                    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], object] = utcnow) -> dict:
    """Send every pending alert, oldest first, with ``smtp.retries`` tries each; alerts that
    failed for good are tried again only under other mail settings. Each alert is claimed
    before it is sent, and an unexpected error on one is logged and leaves it pending for the
    next round: it never stops the rest of the queue."""
    pipeline = DeliveryPipeline(store, notifier, config, sleep, clock)
    outcomes = [pipeline.run(alert_id) for alert_id in pipeline.due()]
    return {"sent": outcomes.count(True), "failed": outcomes.count(False)}


class DeliveryPipeline:
    """One alert at a time through small stages, as Alertmanager's notify pipeline does it:
    ``wait`` (a resolved mail waits for its firing mail), ``dedupe`` (claim it, so of two
    pollers only one sends), ``retry`` (the notifier says whether a failure is worth another
    try) and ``set_notifies`` (sent, and the topic counts as notified). A stage that says no
    ends the alert's round; the next alert goes on either way."""

    def __init__(self, store: Store, notifier: Notifier, config: FinSentimentConfig,
                 sleep: Callable[[float], None], clock: Callable[[], object]):
        self.store, self.notifier, self.config, self.sleep, self.clock = store, notifier, config, sleep, clock
        self.fingerprint = mail_settings_fingerprint(config)

    def due(self) -> list[int]:
        """The alerts to try this round, oldest first."""
        with self.store.session() as session:
            query = select(Alert.id).where(_claimable(self.fingerprint, self.clock())).order_by(Alert.id)
            return list(session.execute(query).scalars())

    def run(self, alert_id: int) -> bool | None:
        """True: a server accepted it; False: it failed this round; None: not its turn."""
        if not self.wait(alert_id) or not self.dedupe(alert_id):
            return None
        try:
            with self.store.session() as session:
                alert = session.get(Alert, alert_id)
                accepted = self.retry(session, alert)
                if accepted:
                    self.set_notifies(session, alert)
                return accepted
        except Exception as exc:  # a bug or a broken row: this alert waits, the queue goes on
            logger.exception("alert %d: unexpected error, left pending for the next round", alert_id)
            self._release(alert_id, f"{type(exc).__name__}: {exc}")
            return False

    def wait(self, alert_id: int) -> bool:
        """A resolved mail waits until the firing mail of its spike has been accepted."""
        with self.store.session() as session:
            alert = session.get(Alert, alert_id)
            if alert.status == SENT:
                return False
            if alert.kind == FIRING:
                return True
            firing = session.execute(select(Alert.status).where(
                Alert.group_key == alert.group_key, Alert.kind == FIRING, Alert.id < alert.id)).scalars().all()
            return all(status == SENT for status in firing)

    def dedupe(self, alert_id: int) -> bool:
        """Mark the alert ``sending`` in one UPDATE: of two pollers, exactly one gets it."""
        now = self.clock()
        with self.store.engine.begin() as connection:
            claimed = connection.execute(update(Alert.__table__)
                                         .where(Alert.id == alert_id, _claimable(self.fingerprint, now))
                                         .values(status=SENDING, claimed_at=now))
            return claimed.rowcount == 1

    def retry(self, session, alert: Alert) -> bool:
        """Up to ``smtp.retries`` tries with doubling pauses; the status is committed after each
        failed try. A failure the notifier calls permanent ends it at once: ``failed`` until the
        mail settings change."""
        message, retries = message_for(self.store, session, alert, self.config), self.config.smtp.retries
        delay = self.config.smtp.backoff_s
        for attempt in range(retries):
            alert.attempts += 1
            try:
                self.notifier.send(message)
                return True
            except NotifyError as exc:
                alert.last_error = str(exc)
                if not exc.retryable:
                    alert.status, alert.failed_config = FAILED, self.fingerprint
                    logger.error("alert %d (%s): refused for good, not retried until the mail settings "
                                 "change: %s", alert.id, alert.topic, exc)
                    session.commit()
                    return False
                logger.warning("alert %d (%s): try %d of %d failed: %s", alert.id, alert.topic, attempt + 1,
                               retries, exc)
                alert.status = PENDING if attempt + 1 == retries else SENDING
                session.commit()
                if attempt + 1 < retries:
                    self.sleep(delay)
                    delay *= 2
        return False

    def set_notifies(self, session, alert: Alert) -> None:
        """Sent: and only now does the topic count as notified, for the repeat interval."""
        from finsentiment.store import TopicState

        now = self.clock()
        alert.status, alert.sent_at, alert.last_error, alert.failed_config = SENT, now, None, None
        state = session.get(TopicState, alert.topic)
        if state is not None and alert.kind == FIRING and state.group_key == alert.group_key:
            state.last_notified = now
        session.commit()
        logger.info("alert %d (%s %s) sent to %s", alert.id, alert.topic, alert.kind,
                    ", ".join(self.config.recipients))

    def _release(self, alert_id: int, error: str) -> None:
        """An alert whose round broke goes back to ``pending`` with the error, for the next round."""
        with self.store.engine.begin() as connection:
            connection.execute(update(Alert.__table__).where(Alert.id == alert_id, Alert.status == SENDING)
                               .values(status=PENDING, last_error=error[:2000]))
