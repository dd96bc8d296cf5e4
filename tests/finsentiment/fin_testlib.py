"""Helpers for the finsentiment tests: synthetic headlines, feed documents, and the servers'
building blocks. A plain module (not conftest) so test files can import it by name."""
from __future__ import annotations

import html
import random
import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy

COMPANIES = ["Nokia", "Nordea", "Fortum", "Metso", "Acme", "Orion", "Kone", "Wartsila"]
PHRASES = {
    "negative": ["profit falls sharply", "shares plunge after warning", "cuts hundreds of jobs",
                 "reports heavy loss", "sales drop in weak market", "warns of lower earnings"],
    "positive": ["profit rises strongly", "shares jump on record order", "wins large contract",
                 "beats forecasts again", "sales grow in strong market", "raises earnings outlook"],
    "neutral": ["holds annual general meeting", "appoints new board member", "publishes interim report date",
                "moves headquarters to Espoo", "announces conference call schedule", "names new auditor"],
}
TAILS = ["in the third quarter", "this year", "says statement", "in Finland", "on Thursday", "analysts said"]


def headline(label: str, company: str, rng: random.Random) -> str:
    return f"{company} {rng.choice(PHRASES[label])} {rng.choice(TAILS)}"


def training_rows(per_label: int = 90, seed: int = 3) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(headline(label, rng.choice(COMPANIES), rng), label) for label in PHRASES for _ in range(per_label)]

@dataclass
class FeedEntry:
    title: str
    link: str = ""
    guid: str = ""
    pub_date: str = ""


def rss(entries: list[FeedEntry], title: str = "Test wire") -> bytes:
    items = []
    for e in entries:
        parts = [f"<title>{html.escape(e.title)}</title>"]
        if e.link:
            parts.append(f"<link>{html.escape(e.link)}</link>")
        if e.guid:
            parts.append(f"<guid isPermaLink='false'>{html.escape(e.guid)}</guid>")
        if e.pub_date:
            parts.append(f"<pubDate>{e.pub_date}</pubDate>")
        items.append("<item>" + "".join(parts) + "</item>")
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>{html.escape(title)}</title><link>http://example.com/</link><description>test</description>"
            + "".join(items) + "</channel></rss>").encode("utf-8")


def atom(entries: list[FeedEntry]) -> bytes:
    body = "".join(
        f"<entry><title>{html.escape(e.title)}</title><id>{html.escape(e.guid or e.link)}</id>"
        f"<link href='{html.escape(e.link)}'/><updated>2024-01-02T10:00:00Z</updated></entry>" for e in entries)
    return ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            "<title>Atom wire</title><id>urn:test</id><updated>2024-01-02T10:00:00Z</updated>"
            f"{body}</feed>").encode("utf-8")


def entries_for(label: str, n: int, company: str, prefix: str, seed: int = 0) -> list[FeedEntry]:
    rng = random.Random(seed)
    return [FeedEntry(title=headline(label, company, rng) + f" {i}", link=f"http://news.example/{prefix}/{i}",
                      guid=f"{prefix}-{i}") for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    delay_s: float = 0.0
    content_type: str = "application/rss+xml"


@dataclass
class FeedServer:
    base_url: str
    routes: dict[str, Route]
    log: list[tuple[str, int, dict]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    def statuses(self, path: str) -> list[int]:
        return [status for p, status, _ in self.log if p == path]


class Inbox:
    """aiosmtpd handler that keeps every accepted message (envelope and parsed mail)."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self):
        return [message_from_bytes(e.original_content or e.content, policy=policy.default) for e in self.envelopes]


class SmtpServer:
    def __init__(self, port: int):
        self.port = port
        self.inbox = Inbox()
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


