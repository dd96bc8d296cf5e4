"""What lets one loaded recommender serve many requests at once: a readers-writer lock (many
``recommend`` calls together, a new interaction alone) and the per-user answer cache."""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator


class ReadWriteLock:
    """Many readers or one writer. Writers go first once waiting, so a steady stream of reads
    cannot hold a ``POST /interactions`` back indefinitely."""

    def __init__(self):
        self._condition = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            while self._writer or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._condition.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._condition:
                self._writer = False
                self._condition.notify_all()


class AnswerCache:
    """Ranked answers per (user, mode, scope), longest list computed so far.

    The expensive part of a request (profile, candidate pool, features, scorer, blend) depends
    on the user's own history above all, so an answer stays valid until that user's next
    interaction (``forget_user``), the catalogue changes (``clear``), or ``ttl_s`` passes, which
    bounds how long other users' new interactions (popularity, co-occurrence) take to show."""

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 100_000):
        self.ttl_s = float(ttl_s)
        self.max_entries = int(max_entries)
        self._entries: dict[tuple, tuple[float, dict]] = {}
        self._by_user: dict[str, set[tuple]] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, user: str, mode: str, scope: str, k: int, *, count_miss: bool = True) -> dict | None:
        """The answer if it is fresh and at least ``k`` deep (or all there is). ``count_miss``:
        False for a look that a full request follows on a miss (that one counts it)."""
        if self.ttl_s <= 0:  # caching off (latency benchmarks, tests of the cold path)
            return None
        key = (user, mode, scope)
        with self._lock:
            found = self._entries.get(key)
            fresh = found is not None and time.monotonic() - found[0] <= self.ttl_s and (
                len(found[1]["items"]) >= k or found[1].get("complete"))
            self.hits += fresh
            self.misses += not fresh and count_miss
            return found[1] if fresh else None

    def put(self, user: str, mode: str, scope: str, answer: dict) -> None:
        key = (user, mode, scope)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
                self._by_user.clear()
            self._entries[key] = (time.monotonic(), answer)
            self._by_user.setdefault(user, set()).add(key)

    def forget_user(self, user: str) -> None:
        with self._lock:
            for key in self._by_user.pop(user, ()):
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_user.clear()

    def stats(self) -> dict:
        return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses, "ttl_s": self.ttl_s}
