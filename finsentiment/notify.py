"""Alert mails: what they say (plain text + HTML + the trend chart) and how they leave.

A ``Notifier`` only sends a finished ``EmailMessage``; the SMTP one talks to a real server,
the outbox one writes .eml files (the offline default), the memory one keeps them for tests.
Like Alertmanager's notifiers, a failure says whether it is worth retrying
(``NotifyError.retryable``): a server that is down or answers 4xx will be tried again next
round; a wrong password, a refused recipient or any 5xx reply will not succeed by repetition,
so the alert is marked ``failed`` with the reason and waits until the mail settings change.

``deliver_pending`` is the only place that changes an alert's delivery state: ``sent`` once the
server accepted it (and only then does the topic count as notified, for the repeat interval),
and a resolved mail never leaves before the firing mail of its spike.
"""
from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Callable, Optional, Protocol

from sqlalchemy import select

from finsentiment.config import FinSentimentConfig, SmtpConfig
from finsentiment.store import FAILED, FIRING, PENDING, SENT, Alert, Article, Store, utcnow
from finsentiment.trends import chart_png, series
from shared.errors import NlpSuiteError
from shared.mailbox import store_eml

logger = logging.getLogger(__name__)


class NotifyError(NlpSuiteError):
    """A message that could not be handed over. ``retryable``: whether trying again later can
    succeed (False for a wrong password, a refused recipient, a 5xx reply)."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def _smtp_retryable(exc: Exception) -> bool:
    if isinstance(exc, (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused,
                        smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError)):
        return False
    code = getattr(exc, "smtp_code", None)
    return not (isinstance(code, int) and code >= 500)  # 4xx and connection trouble: transient


class Notifier(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpNotifier:
    """smtplib against the configured server (optional implicit TLS or STARTTLS and login)."""

    def __init__(self, config: SmtpConfig):
        self.config = config

    def tls_context(self) -> ssl.SSLContext:
        """Verifying context: smtplib's own default for STARTTLS checks no certificate at all."""
        return ssl.create_default_context(cafile=self.config.ca_file)

    def send(self, message: EmailMessage) -> None:
        c = self.config
        try:
            if c.ssl:
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s, context=self.tls_context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
            with smtp:
                if c.starttls and not c.ssl:
                    smtp.starttls(context=self.tls_context())
                if c.user:
                    smtp.login(c.user, c.password())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"SMTP {c.host}:{c.port}: {type(exc).__name__}: {exc}",
                              retryable=_smtp_retryable(exc)) from exc


class OutboxNotifier:
    """Writes each mail as an .eml file in the outbox folder (``shared.mailbox``); any mail
    client opens them."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def send(self, message: EmailMessage) -> None:
        try:
            store_eml(self.folder, bytes(message))
        except OSError as exc:  # a full disk may pass; a folder we may not write to will not
            raise NotifyError(f"outbox {self.folder}: {exc}", retryable=not isinstance(exc, PermissionError)) from exc


class MemoryNotifier:
    """Keeps messages in a list; ``fail_times`` makes the first sends fail (for retry tests),
    ``permanent`` makes those failures permanent ones."""

    def __init__(self, fail_times: int = 0, permanent: bool = False):
        self.messages: list[EmailMessage] = []
        self.fail_times = fail_times
        self.permanent = permanent
        self.calls = 0

    def send(self, message: EmailMessage) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise NotifyError("memory notifier: simulated failure", retryable=not self.permanent)
        self.messages.append(message)


def build_notifier(config: FinSentimentConfig) -> Notifier:
    return SmtpNotifier(config.smtp) if config.notifier == "smtp" else OutboxNotifier(config.outbox_dir)


def _safe_href(link: str) -> Optional[str]:
    return link if link.lower().startswith(("http://", "https://")) else None


def subject_of(alert: Alert) -> str:
    if alert.kind == FIRING:
        return (f"[finsentiment] FIRING: {alert.topic}: negative sentiment {alert.negative_share:.0%} "
                f"({alert.n_negative}/{alert.n_items} articles, baseline {alert.baseline:.0%})")
    return f"[finsentiment] RESOLVED: {alert.topic}: negative sentiment back to {alert.negative_share:.0%}"


def build_message(alert: Alert, articles: list[Article], chart: Optional[bytes], sender: str,
                  recipients: list[str], window_hours: float) -> EmailMessage:
    """Plain text and HTML alternatives; the chart inline in the HTML part (and named, so clients
    that list attachments show it). Every headline is HTML-escaped: feeds are untrusted input."""
    message = EmailMessage()
    message["Subject"] = subject_of(alert)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=f"finsentiment-{alert.id}")
    message["X-Finsentiment-Group"] = alert.group_key
    what = ("Negative sentiment spiked" if alert.kind == FIRING else "The negative-sentiment spike has ended")
    summary = (f"{what} for topic {alert.topic}: {alert.n_negative} of {alert.n_items} articles in the last "
               f"{window_hours:g} h were negative ({alert.negative_share:.0%}; the topic's baseline is "
               f"{alert.baseline:.0%}).")
    lines = [summary, ""]
    if articles:
        lines.append("Headlines:")
        for a in articles:
            p = a.score.p_negative if a.score else float("nan")
            lines.append(f"- {a.title} (negative {p:.0%}; {a.feed.name if a.feed else ''})")
            if a.link:
                lines.append(f"  {a.link}")
    message.set_content("\n".join(lines) + "\n")

    rows = []
    for a in articles:
        title = html.escape(a.title)
        href = _safe_href(a.link or "")
        cell = f'<a href="{html.escape(href, quote=True)}">{title}</a>' if href else title
        p = a.score.p_negative if a.score else float("nan")
        rows.append(f"<tr><td>{cell}</td><td>{p:.0%}</td><td>{html.escape(a.feed.name if a.feed else '')}</td></tr>")
    cid = make_msgid(domain="finsentiment.local")
    table = ("<table border='1' cellpadding='4' cellspacing='0'><tr><th>headline</th><th>negative</th>"
             f"<th>feed</th></tr>{''.join(rows)}</table>") if rows else ""
    image = f"<p><img src='cid:{cid[1:-1]}' alt='trend chart'></p>" if chart else ""
    message.add_alternative(
        "<!doctype html><html><body>"
        f"<h2>{html.escape(subject_of(alert))}</h2><p>{html.escape(summary)}</p>{table}{image}"
        "</body></html>", subtype="html")
    if chart:
        html_part = message.get_payload()[1]
        html_part.add_related(chart, maintype="image", subtype="png", cid=cid,
                              filename=f"{alert.topic.replace(' ', '_')}-trend.png", disposition="inline")
    return message


def message_for(store: Store, session, alert: Alert, config: FinSentimentConfig) -> EmailMessage:
    articles = store.articles_by_id(session, alert.headline_ids)
    rule = config.alerts
    days = min(rule.baseline_days, 14)
    points = series(session, alert.topic, alert.window_end, days,
                    bucket_hours=max(rule.window_hours, days * 24 / 30))
    chart = chart_png(alert.topic, points, threshold=rule.negative_share, baseline=alert.baseline)
    return build_message(alert, articles, chart, config.smtp.sender, config.recipients, rule.window_hours)


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


def deliver_pending(store: Store, notifier: Notifier, config: FinSentimentConfig,
                    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], object] = utcnow) -> dict:
    """Send every pending alert, oldest first, with ``smtp.retries`` tries each; alerts that
    failed for good are tried again only under other mail settings."""
    sent = failed = 0
    fingerprint = mail_settings_fingerprint(config)
    with store.session() as session:
        ids = list(session.execute(
            select(Alert.id).where((Alert.status == PENDING)
                                   | ((Alert.status == FAILED) & (Alert.failed_config != fingerprint)))
            .order_by(Alert.id)).scalars())
    for alert_id in ids:
        with store.session() as session:
            alert = session.get(Alert, alert_id)
            if alert.status == SENT or not _deliverable(session, alert):
                continue
            alert.status = PENDING
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
                        break
                    logger.warning("alert %d (%s): try %d of %d failed: %s", alert.id, alert.topic,
                                   attempt + 1, config.smtp.retries, exc)
                    session.commit()
                    if attempt + 1 < config.smtp.retries:
                        sleep(delay)
                        delay *= 2
                    continue
                now = clock()
                alert.status, alert.sent_at, alert.last_error, alert.failed_config = SENT, now, None, None
                _mark_notified(session, alert, now)
                session.commit()
                logger.info("alert %d (%s %s) sent to %s", alert.id, alert.topic, alert.kind,
                            ", ".join(config.recipients))
                sent += 1
                break
            if alert.status != SENT:
                failed += 1
    return {"sent": sent, "failed": failed}
