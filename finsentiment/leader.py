"""Exactly one active poll scheduler per database, and a standby that takes over.

Two monitors on one store would fetch, score and mail twice as often, so a monitor polls only
while it holds the scheduler lock; a second one waits for it. The lock belongs to a process
and dies with it, so a monitor killed with ``kill -9`` hands over at once:

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection of its own; the
  server drops it the moment that connection closes (the kernel closes it for a killed process).
- SQLite: ``flock`` on a file beside the database (one machine, like the database itself).

The holder is written to ``scheduler_leader`` (who and since when), which the dashboard's
health and the replicas benchmark read.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
from datetime import datetime
from pathlib import Path
from typing import Optional

from sqlalchemy import text
from sqlalchemy.engine import make_url

from finsentiment.store import SchedulerLeader, Store, utcnow

logger = logging.getLogger(__name__)

LOCK_NAME = "nlpsuite:finsentiment-scheduler"


def advisory_key(name: str = LOCK_NAME) -> int:
    """A signed 64-bit key for ``pg_advisory_lock``, the same in every process."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class SchedulerLock:
    """The lock a monitor must hold to run the scheduler (see the module docstring)."""

    def __init__(self, store: Store, name: str = LOCK_NAME):
        self.store, self.name = store, name
        self._connection = None
        self._file = None
        url = make_url(store.url)
        self._sqlite_path = Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this process holds it now."""
        if self.held:
            return True
        if self._sqlite_path is not None:
            return self._try_flock()
        connection = self.store.engine.connect()
        try:
            got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                          {"key": advisory_key(self.name)}).scalar())
            connection.commit()
        except Exception:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection = connection
        self._record_holder()
        return True

    def _try_flock(self) -> bool:
        import fcntl

        handle = open(self._sqlite_path.with_name(self._sqlite_path.name + ".scheduler.lock"), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        self._record_holder()
        return True

    def _record_holder(self) -> None:
        with self.store.session() as session:
            row = session.get(SchedulerLeader, self.name) or SchedulerLeader(name=self.name)
            row.holder, row.pid, row.since = f"{socket.gethostname()}:{os.getpid()}", os.getpid(), utcnow()
            session.merge(row)

    def still_held(self) -> bool:
        """False once the lock's connection is gone (the database restarted or the network
        dropped it): then another monitor may hold it, and this one must stop polling."""
        if self._file is not None:
            return True
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except Exception:
            logger.warning("the scheduler lock's database connection is gone")
            self._drop()
            return False

    def _drop(self) -> None:
        try:
            if self._connection is not None:
                self._connection.close()
        except Exception:  # closing a dead connection may fail; the lock is gone either way
            pass
        self._connection = None

    def release(self) -> None:
        """Let a standby take over (also what the kernel does when the process dies)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(self.name)})
                self._connection.commit()
            except Exception:
                pass
            self._drop()


def current_leader(store: Store, name: str = LOCK_NAME) -> Optional[tuple[str, datetime]]:
    """(holder, since) of the last monitor that took the lock, or None."""
    with store.session() as session:
        row = session.get(SchedulerLeader, name)
        return (row.holder, row.since) if row else None
