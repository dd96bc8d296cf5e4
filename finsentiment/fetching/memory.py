"""An in-memory fetcher for tests and benchmarks: feeds are bytes held in a dict."""
from __future__ import annotations

import hashlib
from typing import Optional

from finsentiment.fetching.base import FeedError, FetchLimits, RawFeed


class MemoryFetcher:
    """``feeds[url] = bytes``; the ETag is the content hash, so changing a feed is a new version."""

    def __init__(self, feeds: Optional[dict[str, bytes]] = None):
        self.feeds = dict(feeds or {})
        self.requests: list[str] = []

    def fetch(self, url: str, *, etag: Optional[str] = None, modified: Optional[str] = None,
              limits: FetchLimits = FetchLimits()) -> RawFeed:
        self.requests.append(url)
        if url not in self.feeds:
            raise FeedError(f"{url}: no such feed")
        body = self.feeds[url]
        tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if etag == tag:
            return RawFeed(url, None, 304, etag, modified)
        return RawFeed(url, body, 200, tag, None)
