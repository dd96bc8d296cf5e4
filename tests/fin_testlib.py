"""Helpers for the finsentiment tests: synthetic headlines, feed documents, and the servers'
building blocks. A plain module (not conftest) so test files can import it by name."""
from __future__ import annotations

import html
import random
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

from web_testlib import free_port  # noqa: F401  (re-exported: one port finder for every test)

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


def build_sentiment_model(base: Path, out: Path) -> Path:
    """A 2-layer BERT (hidden 64) with a vocab made of the headline words, fine-tuned on
    synthetic negative/neutral/positive headlines: a real calibrated model folder in seconds."""
    import re

    from core_testlib import build_tiny_bert
    from shared.data import LabelledTexts
    from shared.training import FineTuneArgs, finetune

    words = set()
    for phrases in PHRASES.values():
        for p in phrases:
            words.update(re.findall(r"\w+", p.lower()))
    for text in COMPANIES + TAILS:
        words.update(re.findall(r"\w+", text.lower()))
    build_tiny_bert(base, words, hidden_size=64, max_positions=64)
    rows = training_rows()
    train = LabelledTexts([t for t, _ in rows], [l for _, l in rows], "synthetic headlines")
    finetune(train, FineTuneArgs(base=str(base), epochs=20, learning_rate=1e-3, batch_size=16, threads=1,
                                 max_length=32, progress=False, logging_steps=10, early_stopping_patience=6),
             out)
    return out

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


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    delay_s: float = 0.0
    content_type: str = "application/rss+xml"
    encoding: str | None = None
    """Content-Encoding sent with the (already encoded) body."""
    trickle_s: float = 0.0
    """Seconds between 100-byte pieces of the body: a server that never quite times out."""
    length: bool = True
    """Whether to send Content-Length (a hostile server may not)."""


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


class Clock:
    """A monitor's clock that a test moves on by hand."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **delta):
        from datetime import timedelta

        self.now += timedelta(**delta)


class SmtpServer:
    """aiosmtpd on loopback; ``tls_context`` offers STARTTLS (then required), ``logins`` maps
    user to password and requires AUTH, which aiosmtpd only allows after STARTTLS."""

    def __init__(self, port: int, tls_context=None, logins: dict[str, str] | None = None):
        self.port = port
        self.inbox = Inbox()
        self.controller = None
        self.tls_context = tls_context
        self.logins = logins
        self.authenticated: list[str] = []

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.logins is not None and self.logins.get(user) == password
        if ok:
            self.authenticated.append(user)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd replies 535

    def start(self):
        from aiosmtpd.controller import Controller

        options = {}
        if self.tls_context is not None:
            options.update(tls_context=self.tls_context, require_starttls=True)
        if self.logins is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def self_signed_certificate(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (IP in subjectAltName, so host-name checks pass) and its key,
    as PEM files; the certificate doubles as the CA file a client trusts."""
    import datetime
    import ipaddress
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = Path(folder)
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)
