"""Feeds that are local files (the offline demo feeds, or a feed a script drops into a folder)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlparse

from finsentiment.fetching.base import FeedError, FetchLimits, RawFeed


def local_path(url: str) -> Path:
    """The file a feed URL names: a ``file://`` URL decoded, anything else taken as a plain path."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    return Path(url)


class FileFetcher:
    """Reads the file; its modification time and size play the part of an ETag, so an unchanged
    file is "304 Not Modified" and is not parsed again."""

    def fetch(self, url: str, *, etag: Optional[str] = None, modified: Optional[str] = None,
              limits: FetchLimits = FetchLimits()) -> RawFeed:
        path = local_path(url)
        try:
            stat = path.stat()
            tag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
            if etag == tag:
                return RawFeed(url, None, 304, etag, modified)
            if stat.st_size > limits.max_bytes:
                raise FeedError(f"{path}: the feed is {stat.st_size:,} bytes, over the {limits.max_bytes:,}-byte limit")
            return RawFeed(url, path.read_bytes(), 200, tag, None)
        except OSError as exc:
            raise FeedError(f"{path}: cannot read the feed file: {exc.strerror or exc}") from exc
