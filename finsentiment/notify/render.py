"""What an alert mail says: subject, plain text and HTML with the headlines behind the alert,
and the topic's trend chart; every text from the feeds is escaped."""
from __future__ import annotations

import hashlib
import html
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Optional

from finsentiment.config import FinSentimentConfig
from finsentiment.store import FIRING, Alert, Article, Store
from finsentiment.trends import chart_png, series


LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def _safe_href(link: str) -> Optional[str]:
    """Only http(s) links get through, whole: a ``javascript:`` or ``file:`` link is dropped."""
    link = (link or "").strip()
    if LINE_BREAKS.search(link) or not link.lower().startswith(("http://", "https://")):
        return None
    return link


def one_line(text: str) -> str:
    """Feed text on one line: a line break (or any control character) in a headline could
    otherwise forge lines of the mail's plain-text part."""
    return LINE_BREAKS.sub(" ", text or "").strip()


def message_id(alert: Alert, sender: str) -> str:
    """The same ``Message-ID`` every time this alert is sent: if a crash makes the monitor send
    it twice, the mail client shows it once (Alertmanager's promise: at least once, deduplicated)."""
    domain = sender.rpartition("@")[2].strip("<> ") or "finsentiment.local"
    digest = hashlib.sha256(f"{alert.id}|{alert.group_key}|{alert.kind}".encode()).hexdigest()[:16]
    return f"<finsentiment.{alert.id}.{digest}@{domain}>"


def subject_of(alert: Alert) -> str:
    """The mail's subject, also the HTML part's heading: FIRING with the negative share, counts and
    baseline, or RESOLVED with the share it is back to."""
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
    message["Message-ID"] = message_id(alert, sender)
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
            lines.append(f"- {one_line(a.title)} (negative {p:.0%}; {one_line(a.feed.name if a.feed else '')})")
            if _safe_href(a.link):
                lines.append(f"  {_safe_href(a.link)}")
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
    """The finished mail for ``alert`` (delivery builds it for each alert it sends): its headlines and a chart
    of up to 14 days of the topic ending with the alert's window; sender and recipients from the config."""
    articles = store.articles_by_id(session, alert.headline_ids)
    rule = config.alerts
    days = min(rule.baseline_days, 14)
    points = series(session, alert.topic, alert.window_end, days,
                    bucket_hours=max(rule.window_hours, days * 24 / 30))
    chart = chart_png(alert.topic, points, threshold=rule.negative_share, baseline=alert.baseline)
    return build_message(alert, articles, chart, config.smtp.sender, config.recipients, rule.window_hours)
