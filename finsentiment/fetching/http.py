"""Feeds over HTTP(S) with httpx: timeouts and conditional GETs (ETag / Last-Modified), and
limits that a hostile server cannot get past: a deadline for the whole download and a cap on
the body after decompression (the body is decompressed here, piece by piece, so a gzip bomb
stops at the cap instead of filling memory)."""
from __future__ import annotations

import time
import zlib
from typing import Iterator, Optional

import httpx

from finsentiment.fetching.base import FeedError, FetchLimits, RawFeed

USER_AGENT = "nlpsuite-finsentiment/0.1 (+https://example.invalid/nlpsuite)"
DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class HttpFeedFetcher:
    """A conditional GET per poll, so an unchanged feed costs the server one 304 and us nothing.

    ``client``: an ``httpx.Client`` to use (e.g. one with a test transport or a proxy); by
    default one that follows redirects, as a feed reader must.
    """

    def __init__(self, client: Optional[httpx.Client] = None):
        self.client = client or httpx.Client(follow_redirects=True)
        self.client.headers.setdefault("User-Agent", USER_AGENT)

    def fetch(self, url: str, *, etag: Optional[str] = None, modified: Optional[str] = None,
              limits: FetchLimits = FetchLimits()) -> RawFeed:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
                   "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        deadline = time.monotonic() + limits.deadline_s
        try:
            with self.client.stream("GET", url, headers=headers, timeout=limits.timeout_s) as response:
                if response.status_code == 304:
                    return RawFeed(url, None, 304, etag, modified)
                if response.status_code >= 400:
                    raise FeedError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
                body = _read_capped(url, response, limits, deadline)
                return RawFeed(url, body, response.status_code,
                               response.headers.get("ETag"), response.headers.get("Last-Modified"))
        except httpx.TimeoutException as exc:
            raise FeedError(f"{url}: timed out after {limits.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise FeedError(f"{url}: {type(exc).__name__}: {exc}") from exc


def _read_capped(url: str, response: httpx.Response, limits: FetchLimits, deadline: float) -> bytes:
    """The decompressed body, or ``FeedError`` past the deadline or the size cap."""
    declared = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity") and declared.isdigit() and int(declared) > limits.max_bytes:
        raise FeedError(f"{url}: the feed is {int(declared):,} bytes, over the {limits.max_bytes:,}-byte limit")
    body = bytearray()
    for piece in _decoded(url, response.iter_raw(), encoding, limits.max_bytes):
        body += piece
        if len(body) > limits.max_bytes:
            raise FeedError(f"{url}: the feed is over the {limits.max_bytes:,}-byte limit "
                            "(after decompression); not read further")
        if time.monotonic() > deadline:
            raise FeedError(f"{url}: the download took over {limits.deadline_s:g} s; abandoned")
    return bytes(body)


def _decoded(url: str, chunks: Iterator[bytes], encoding: str, max_bytes: int) -> Iterator[bytes]:
    if encoding in ("", "identity"):
        yield from chunks
        return
    if encoding not in DECODERS:
        raise FeedError(f"{url}: unsupported Content-Encoding {encoding!r}")
    decoder = zlib.decompressobj(DECODERS[encoding])
    try:
        for chunk in chunks:
            data = chunk
            while data:  # never more than the cap allows in one step: a bomb inflates no further
                yield decoder.decompress(data, max_bytes + 1)
                data = decoder.unconsumed_tail
        yield decoder.flush()
    except zlib.error as exc:
        raise FeedError(f"{url}: corrupt {encoding} body: {exc}") from exc
