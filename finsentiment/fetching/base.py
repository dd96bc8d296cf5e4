"""What a fetcher returns and how raw feed bytes become items.

Transport and parsing are separate on purpose (the way httpx separates transports from the
client): a fetcher only moves bytes and cache validators (ETag, Last-Modified), and feedparser
turns the bytes into items here, so every transport handles malformed feeds the same way.
"""
from __future__ import annotations

import hashlib
import logging
import re
from calendar import timegm
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional, Protocol

import feedparser

from shared.errors import NlpSuiteError

logger = logging.getLogger(__name__)


class FeedError(NlpSuiteError):
    """A feed that could not be fetched or parsed; the poller logs it and goes on with the others."""


@dataclass
class RawFeed:
    """One fetch: the body (None when the server said 304 Not Modified) and the new validators."""

    url: str
    body: Optional[bytes]
    status: int = 200
    etag: Optional[str] = None
    modified: Optional[str] = None

    @property
    def not_modified(self) -> bool:
        return self.body is None


@dataclass(frozen=True)
class FetchLimits:
    """What one feed may cost: a hostile or broken server gets this much and no more."""

    timeout_s: float = 10.0
    """Connecting, and waiting for each piece of the body."""
    deadline_s: float = 30.0
    """The whole download, however slowly the bytes trickle in."""
    max_bytes: int = 5 * 1024 * 1024
    """The body after decompression (a small gzip bomb stops here, not in memory)."""


class Fetcher(Protocol):
    """Moves a feed's bytes. ``etag``/``modified`` are the validators of the previous fetch;
    a fetcher returns ``RawFeed(body=None, status=304)`` when the feed has not changed and
    raises ``FeedError`` for timeouts, HTTP errors, unreadable files and anything over ``limits``."""

    def fetch(self, url: str, *, etag: Optional[str] = None, modified: Optional[str] = None,
              limits: FetchLimits = FetchLimits()) -> RawFeed: ...


@dataclass
class FeedItem:
    """One entry of a parsed feed, ready for Store.add_articles: control characters stripped, ``published``
    in naive UTC or None."""

    key: str
    """sha256 of the guid (or link, or title): what makes an article unique in the store."""
    guid: str
    link: str
    title: str
    summary: str = ""
    published: Optional[datetime] = None
    extra: dict = field(default_factory=dict)


def item_key(guid: str, link: str, title: str) -> str:
    """An article's identity in the store: sha256 of the guid, else the link, else the title, so polling a
    feed again adds nothing."""
    identity = guid or link or title
    return hashlib.sha256(identity.strip().encode("utf-8")).hexdigest()


def _published(entry) -> Optional[datetime]:
    for name in ("published_parsed", "updated_parsed"):
        value = entry.get(name)
        if value:
            return datetime.fromtimestamp(timegm(value), tz=timezone.utc).replace(tzinfo=None)
    return None


# feedparser marks a feed "bozo" for any irregularity; these only say the declared encoding was
# wrong or absent, and the items are fine.
_HARMLESS = (feedparser.CharacterEncodingOverride,)
ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class ParsedFeed:
    """A feed's items, and why the feed is degraded when it was not well-formed but readable."""

    items: list[FeedItem]
    problem: Optional[str] = None


def parse_feed(raw: RawFeed, limit: Optional[int] = None) -> ParsedFeed:
    """Items of an RSS/Atom document. A sloppy one (a missing ``>``, an HTML entity such as
    ``&nbsp;``, a bare ``&``) is read with feedparser's lenient parser, as feed readers do, and
    comes back with its ``problem``; ``FeedError`` only for what is dangerous (declared XML
    entities: expansion could exhaust memory) or yields nothing."""
    if ENTITY_DECLARATION.search(raw.body[:1 << 16]):
        raise FeedError(f"{raw.url}: declares XML entities (<!ENTITY>): refused, entity expansion could "
                        "exhaust memory")
    parsed = feedparser.parse(raw.body)
    problem = None
    if parsed.bozo and not isinstance(parsed.bozo_exception, _HARMLESS):
        problem = f"not well-formed XML ({parsed.bozo_exception})"
    if not parsed.version and not parsed.entries:
        raise FeedError(f"{raw.url}: not an RSS or Atom feed" + (f": {problem}" if problem else ""))
    items = [item for entry in parsed.entries[:limit] if (item := _item(raw.url, entry)) is not None]
    if problem and not items:
        raise FeedError(f"{raw.url}: malformed feed, nothing could be read: {problem}")
    if problem:
        problem += f"; {len(items)} items read with the lenient parser"
    return ParsedFeed(items, problem)


def _item(url: str, entry) -> Optional[FeedItem]:
    title = CONTROL.sub("", entry.get("title") or "").strip()
    summary = CONTROL.sub("", entry.get("summary") or "").strip()
    link = (entry.get("link") or "").strip()
    guid = (entry.get("id") or "").strip()
    if not (title or summary):
        logger.warning("%s: skipping an entry without title or summary (guid %r)", url, guid)
        return None
    return FeedItem(key=item_key(guid, link, title), guid=guid, link=link, title=title, summary=summary,
                    published=_published(entry))
