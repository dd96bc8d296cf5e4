"""A sliding-window rate limit: at most ``per_minute`` events per key in any 60 s. Rasa's REST
channel keys it by sender id (and new conversations by client address), the web app's front door
by client address. Memory stays bounded: idle keys are forgotten once there are many."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Optional


class SlidingWindowLimit:
    """``retry_after(key)``: None when the event may go on (and counts it), else seconds to wait."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.per_minute, self.clock, self.max_keys = per_minute, clock, max_keys
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> Optional[int]:
        now = self.clock()
        with self._lock:
            if len(self._seen) > self.max_keys:
                self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < 60}
            times = self._seen.setdefault(key, deque())
            while times and now - times[0] >= 60:
                times.popleft()
            if len(times) >= self.per_minute:
                return max(1, int(60 - (now - times[0])) + 1)
            times.append(now)
            return None
