"""What a fetcher returns and how raw feed bytes become items.

Transport and parsing are separate on purpose (the way httpx separates transports from the
client): a fetcher only moves bytes and cache validators (ETag, Last-Modified), and feedparser
turns the bytes into items here, so every transport handles malformed feeds the same way.
"""
from __future__ import annotations

import hashlib
import logging
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


class Fetcher(Protocol):
    """Moves a feed's bytes. ``etag``/``modified`` are the validators of the previous fetch;
    a fetcher returns ``RawFeed(body=None, status=304)`` when the feed has not changed and
    raises ``FeedError`` for timeouts, HTTP errors and unreadable files."""

    def fetch(self, url: str, *, etag: Optional[str] = None, modified: Optional[str] = None,
              timeout: float = 10.0) -> RawFeed: ...


@dataclass
class FeedItem:
    key: str
    """sha256 of the guid (or link, or title): what makes an article unique in the store."""
    guid: str
    link: str
    title: str
    summary: str = ""
    published: Optional[datetime] = None
    extra: dict = field(default_factory=dict)


def item_key(guid: str, link: str, title: str) -> str:
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


def parse_feed(raw: RawFeed, limit: Optional[int] = None) -> list[FeedItem]:
    """Items of an RSS/Atom document; ``FeedError`` for a malformed (bozo) one."""
    parsed = feedparser.parse(raw.body)
    if parsed.bozo and not isinstance(parsed.bozo_exception, _HARMLESS):
        raise FeedError(f"{raw.url}: malformed feed: {parsed.bozo_exception}")
    if not parsed.version and not parsed.entries:
        raise FeedError(f"{raw.url}: not an RSS or Atom feed")
    items = []
    for entry in parsed.entries[:limit]:
        title = (entry.get("title") or "").strip()
        link = (entry.get("link") or "").strip()
        guid = (entry.get("id") or "").strip()
        if not (title or entry.get("summary")):
            logger.warning("%s: skipping an entry without title or summary (guid %r)", raw.url, guid)
            continue
        items.append(FeedItem(
            key=item_key(guid, link, title), guid=guid, link=link, title=title,
            summary=(entry.get("summary") or "").strip(), published=_published(entry),
        ))
    return items
