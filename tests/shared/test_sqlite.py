"""Every SQLite engine of the suite: WAL (readers never wait for a writer) and a busy timeout (a
second writer waits its turn instead of failing with "database is locked")."""
from __future__ import annotations

import threading
import time

from sqlalchemy import text

from shared.sqlite import engine


def test_sqlite_engines_use_wal_and_wait_for_a_busy_writer(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'a.db'}"
    first, second = engine(url), engine(url)
    with first.begin() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    holding = threading.Event()

    def hold_the_write_lock():
        with first.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            time.sleep(1.0)

    writer = threading.Thread(target=hold_the_write_lock)
    writer.start()
    holding.wait(10)
    with second.connect() as reader:  # WAL: a reader does not wait for the writer
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0
    with second.begin() as connection:  # the busy timeout: waits for the first writer, then writes
        connection.execute(text("INSERT INTO t VALUES (2)"))
    writer.join()
    with second.connect() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_a_plain_engine_would_fail_where_the_suite_s_waits(tmp_path):
    """The test above can fail: without the busy timeout the second writer is refused."""
    import sqlite3

    path = tmp_path / "b.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0)
    try:
        other.execute("INSERT INTO t VALUES (1)")
        raise AssertionError("a second writer got through a held lock")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
    finally:
        holder.execute("ROLLBACK")
