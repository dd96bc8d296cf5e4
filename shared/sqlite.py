"""SQLAlchemy engines that are safe to share between processes on one SQLite file.

Every SQLite database of the suite (the bank, the news store and its job store, the interaction
log) is written by one process while others read it. The defaults would fail there: the rollback
journal blocks readers during a write, and a second writer gets "database is locked" at once.
``engine`` turns on the write-ahead log (readers never wait for the writer, a commit is atomic
and survives a crash) and a busy timeout (a second writer waits its turn). PostgreSQL (``suite.backend:
postgres``) gets its password from ``$NLPSUITE_DB_PASSWORD`` when the URL has none (config files
never hold it) and a pool that checks a connection before use, so a database restart costs one
reconnect instead of an error.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url

BUSY_TIMEOUT_MS = 10_000
DATABASE_PASSWORD_ENV = "NLPSUITE_DB_PASSWORD"


def with_password(url: str | URL) -> URL:
    """``url`` with the password from ``$NLPSUITE_DB_PASSWORD`` when it is a server's URL without one."""
    import os

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" and parsed.password is None and os.environ.get(DATABASE_PASSWORD_ENV):
        parsed = parsed.set(password=os.environ[DATABASE_PASSWORD_ENV])
    return parsed


def is_sqlite(url: str | URL) -> bool:
    """Whether ``url`` names a SQLite database (a file on this machine) rather than a server."""
    return make_url(url).get_backend_name() == "sqlite"


def engine(url: str, *, foreign_keys: bool = False) -> Engine:
    """An engine for ``url``; a SQLite file gets its folder, WAL and the busy timeout."""
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if not sqlite:
        return create_engine(with_password(parsed), future=True, pool_pre_ping=True)
    made = create_engine(url, future=True)

    @event.listens_for(made, "connect")
    def _pragmas(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if foreign_keys:
            cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
    return made


def prepare_file(path: str | Path) -> Path:
    """Create the SQLite file ``path`` in WAL mode (it stays so), for a database another program
    opens with its own engine: Rasa's tracker store."""
    import sqlite3

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    return path


SCHEMA_LOCK_KEY = 0x6E6C70737569  # "nlpsuite" in a 64-bit advisory lock key space of our own


def create_tables(metadata, made: Engine) -> None:
    """``metadata.create_all`` that several processes may run at once: on PostgreSQL two replicas
    starting together would both see a table missing and the second CREATE would fail, so the
    creation runs under a transaction-scoped advisory lock (SQLite's writer lock does the same)."""
    from sqlalchemy import text

    with made.begin() as connection:
        if made.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        metadata.create_all(connection)
