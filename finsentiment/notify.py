"""Alert mails: what they say (plain text + HTML + the trend chart) and how they leave.

A ``Notifier`` only sends a finished ``EmailMessage``; the SMTP one talks to a real server,
the outbox one writes .eml files (the offline default), the memory one keeps them for tests.
``deliver_pending`` is the only place that changes an alert's status: it is marked ``sent``
after the server accepted it, and a failed round leaves it ``failed``, which the next round
tries again; so an alert is never dropped while the mail server is down.
"""
from __future__ import annotations

import html
import logging
import smtplib
import ssl
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Callable, Optional, Protocol

from sqlalchemy import select

from finsentiment.config import FinSentimentConfig, SmtpConfig
from finsentiment.store import FAILED, FIRING, PENDING, SENT, Alert, Article, Store, utcnow
from finsentiment.trends import chart_png, series

logger = logging.getLogger(__name__)


class NotifyError(Exception):
    """A message that could not be handed over; the alert stays for the next round."""


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
            raise NotifyError(f"SMTP {c.host}:{c.port}: {type(exc).__name__}: {exc}") from exc


class OutboxNotifier:
    """Writes each mail as ``<outbox>/<time>-<n>.eml``; any mail client opens them."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = time.strftime("%Y%m%d-%H%M%S")
        n = len(list(self.folder.glob(f"{stem}-*.eml")))
        (self.folder / f"{stem}-{n}.eml").write_bytes(bytes(message))


class MemoryNotifier:
    """Keeps messages in a list; ``fail_times`` makes the first sends fail (for retry tests)."""

    def __init__(self, fail_times: int = 0):
        self.messages: list[EmailMessage] = []
        self.fail_times = fail_times
        self.calls = 0

    def send(self, message: EmailMessage) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise NotifyError("memory notifier: simulated failure")
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


def deliver_pending(store: Store, notifier: Notifier, config: FinSentimentConfig,
                    sleep: Callable[[float], None] = time.sleep) -> dict:
    """Send every pending or failed alert, oldest first, with ``smtp.retries`` tries each."""
    sent = failed = 0
    with store.session() as session:
        ids = list(session.execute(select(Alert.id).where(Alert.status.in_([PENDING, FAILED]))
                                   .order_by(Alert.id)).scalars())
    for alert_id in ids:
        with store.session() as session:
            alert = session.get(Alert, alert_id)
            if alert.status == SENT:
                continue
            message = message_for(store, session, alert, config)
            delay = config.smtp.backoff_s
            for attempt in range(config.smtp.retries):
                alert.attempts += 1
                try:
                    notifier.send(message)
                except NotifyError as exc:
                    alert.status, alert.last_error = FAILED, str(exc)
                    logger.warning("alert %d (%s): try %d of %d failed: %s", alert.id, alert.topic,
                                   attempt + 1, config.smtp.retries, exc)
                    session.commit()
                    if attempt + 1 < config.smtp.retries:
                        sleep(delay)
                        delay *= 2
                    continue
                alert.status, alert.sent_at, alert.last_error = SENT, utcnow(), None
                session.commit()
                logger.info("alert %d (%s %s) sent to %s", alert.id, alert.topic, alert.kind,
                            ", ".join(config.recipients))
                sent += 1
                break
            else:
                failed += 1
    return {"sent": sent, "failed": failed}
