"""The real PostgreSQL and Redis the scale-out tests run on (bench/servers.py): each starts on
127.0.0.1 from Debian's package, answers a real client, and is gone after ``stop`` (by PID),
leaving no process and no folder behind."""
from __future__ import annotations

import os
import socket

import pytest

from bench.servers import start_postgres, start_redis


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(120)
def test_postgres_takes_a_password_login_and_sql_then_stops_by_pid():
    import sqlalchemy

    server = start_postgres(password="s3cret")
    try:
        engine = sqlalchemy.create_engine(server.url())
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("CREATE TABLE notes (id serial PRIMARY KEY, body text)"))
            connection.execute(sqlalchemy.text("INSERT INTO notes (body) VALUES ('kept')"))
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT body FROM notes")).scalar_one() == "kept"
        engine.dispose()
        wrong = sqlalchemy.create_engine(server.url().replace("s3cret", "guess"))
        with pytest.raises(sqlalchemy.exc.OperationalError, match="password authentication failed"):
            wrong.connect()
        other = sqlalchemy.create_engine(server.create_database("second"))
        with other.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT current_database()")).scalar_one() == "second"
        other.dispose()
    finally:
        server.stop()
    assert not _alive(server.pid) and not _listening(server.port) and not server.folder.exists()


@pytest.mark.timeout(60)
def test_redis_answers_and_stops_by_pid(tmp_path):
    import redis

    server = start_redis(tmp_path / "redis")
    try:
        client = redis.Redis(host="127.0.0.1", port=server.port)
        assert client.set("lock:conversation-1", "replica-a", nx=True, px=5000)
        assert not client.set("lock:conversation-1", "replica-b", nx=True, px=5000)  # held: a second taker fails
        assert client.get("lock:conversation-1") == b"replica-a"
        client.close()
    finally:
        server.stop()
    assert not _alive(server.pid) and not _listening(server.port)
