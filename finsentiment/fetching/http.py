"""Feeds over HTTP(S) with httpx: timeouts and conditional GETs (ETag / Last-Modified)."""
from __future__ import annotations

from typing import Optional

import httpx

from finsentiment.fetching.base import FeedError, RawFeed

USER_AGENT = "nlpsuite-finsentiment/0.1 (+https://example.invalid/nlpsuite)"


class HttpFeedFetcher:
    """A conditional GET per poll, so an unchanged feed costs the server one 304 and us nothing.

    ``client``: an ``httpx.Client`` to use (e.g. one with a test transport or a proxy); by
    default one that follows redirects, as a feed reader must.
    """

    def __init__(self, client: Optional[httpx.Client] = None):
        self.client = client or httpx.Client(follow_redirects=True)
        self.client.headers.setdefault("User-Agent", USER_AGENT)

    def fetch(self, url: str, *, etag: Optional[str] = None, modified: Optional[str] = None,
              timeout: float = 10.0) -> RawFeed:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        try:
            response = self.client.get(url, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise FeedError(f"{url}: timed out after {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise FeedError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 304:
            return RawFeed(url, None, 304, etag, modified)
        if response.status_code >= 400:
            raise FeedError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
        return RawFeed(url, response.content, response.status_code,
                       response.headers.get("ETag"), response.headers.get("Last-Modified"))
