"""Getting feed bytes (a ``Fetcher`` protocol with HTTP, file and in-memory implementations)
and turning them into items with feedparser."""
from __future__ import annotations

from typing import Optional

from finsentiment.fetching.base import (FeedError, FeedItem, Fetcher, FetchLimits, ParsedFeed, RawFeed, item_key,
                                        parse_feed)
from finsentiment.fetching.files import FileFetcher
from finsentiment.fetching.http import HttpFeedFetcher
from finsentiment.fetching.memory import MemoryFetcher


class SchemeFetcher:
    """The default: http(s) URLs through ``HttpFeedFetcher``, anything else as a local file."""

    def __init__(self, http: Optional[Fetcher] = None, files: Optional[Fetcher] = None):
        self.http = http or HttpFeedFetcher()
        self.files = files or FileFetcher()

    def fetch(self, url: str, *, etag=None, modified=None, limits: FetchLimits = FetchLimits()) -> RawFeed:
        target = self.http if url.startswith(("http://", "https://")) else self.files
        return target.fetch(url, etag=etag, modified=modified, limits=limits)


__all__ = ["FeedError", "FeedItem", "FetchLimits", "Fetcher", "FileFetcher", "HttpFeedFetcher", "MemoryFetcher",
           "ParsedFeed", "RawFeed", "SchemeFetcher", "item_key", "parse_feed"]
