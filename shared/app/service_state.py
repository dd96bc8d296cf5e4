"""What the supervisor knows of each service it runs, and its restart policy.

A ``Running`` service is in one state at a time: ``starting`` (spawned, not yet ready),
``ready`` (serving; its health probe is asked now and then), ``waiting`` (crashed, started again
after a back-off), ``failed`` (crashed too often; tried again after a longer pause) or
``finished`` (a one-shot job that exited 0).
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from shared.product.services import Service


@dataclass(frozen=True)
class Restarts:
    """When to start a crashed service again, and when to call a silent one hung."""

    first_delay_s: float = 1.0
    """The first restart waits this long; each further crash in the window doubles it."""
    max_delay_s: float = 60.0
    window_s: float = 600.0
    """Crashes older than this are forgotten."""
    failed_retry_s: float = 300.0
    """A service marked failed is tried again after this long."""
    probe_every_s: float = 10.0
    """How often a ready service's health probe is asked."""
    probe_failures: int = 3
    """Probes in a row that must fail before a service counts as hung and is restarted."""

    def delay(self, recent_crashes: int) -> float:
        """Seconds before the next start, after ``recent_crashes`` earlier ones in the window."""
        return min(self.max_delay_s, self.first_delay_s * 2 ** recent_crashes)


@dataclass
class Running:
    """A started service: its process, its log, its state and its recent crashes."""

    service: Service
    popen: subprocess.Popen
    log: Path
    restarts: list[float] = field(default_factory=list)
    log_offset: int = 0
    """Where this start's output begins in the (appended) log."""
    state: str = "starting"
    state_started: float = field(default_factory=time.monotonic)
    since: float = field(default_factory=time.time)
    next_start: float = 0.0
    last_exit: Optional[int] = None
    reason: str = ""
    """Why it last stopped, for /health."""
    probe_misses: int = 0
    last_probe: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> bool:
        """A one-shot job that exited 0: done, not restarted."""
        return self.state == "finished"

    def became(self, state: str) -> bool:
        """Enter ``state`` (now); always True, for the caller's "changed" flag."""
        self.state, self.state_started, self.since = state, time.monotonic(), time.time()
        self.probe_misses, self.last_probe = 0, self.state_started
        return True

    def is_ready(self) -> bool:
        """Whether this start is up: its log line seen and its probe answering."""
        service = self.service
        if service.oneshot:
            return True
        if service.ready_log is not None:
            try:
                with open(self.log, "rb") as f:
                    f.seek(self.log_offset)
                    if service.ready_log.encode() not in f.read():
                        return False
            except OSError:
                return False
        return service.ready is None or service.ready()

    def probe_due(self, now: float, policy: Restarts) -> bool:
        """Whether a ready server's health probe should be asked now (one-shot jobs and
        services without a probe are never)."""
        if self.service.ready is None or self.service.oneshot or now - self.last_probe < policy.probe_every_s:
            return False
        self.last_probe = now
        return True

    def hung(self, policy: Restarts) -> bool:
        """Ask the probe once; True after ``probe_failures`` silent answers in a row."""
        self.probe_misses = 0 if self.service.ready() else self.probe_misses + 1
        return self.probe_misses >= policy.probe_failures

    def status(self) -> dict:
        """This service for ``services.json``."""
        out = {"state": self.state, "since": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.since)),
               "pid": self.popen.pid, "crashes_recently": len(self.restarts)}
        if self.reason:
            out |= {"last_stop": self.reason}
        if self.state in ("waiting", "failed"):
            out |= {"next_start_in_s": round(max(0.0, self.next_start - time.monotonic()), 1)}
        return out

    def tail(self, n: int = 30) -> str:
        """The last ``n`` lines of the service's log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""
