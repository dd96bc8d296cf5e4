"""The scaled-out suite's parts against real servers (PostgreSQL from Debian's package, HAProxy):
the monitor's scheduler lock handed over when its holder is killed, the recommender's log on
PostgreSQL shared by two stores, the proxy routing around a killed replica, and the settings
and checks that refuse a half-configured scale-out before anything starts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from bench.servers import free_port, start_postgres

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres():
    server = start_postgres("scale-out-secret")
    yield server
    server.stop()


@pytest.fixture
def database(postgres, monkeypatch, request):
    """A fresh database of the module's server; its password only in the environment."""
    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    postgres.create_database(name)
    monkeypatch.setenv("NLPSUITE_DB_PASSWORD", postgres.password)
    return postgres.url(name, with_password=False)


def test_the_scheduler_lock_passes_to_the_standby_when_its_holder_is_killed(database):
    from finsentiment.leader import SchedulerLock, current_leader
    from finsentiment.store import Store

    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from finsentiment.leader import SchedulerLock
        from finsentiment.store import Store
        assert SchedulerLock(Store({database!r})).try_acquire()
        print("held", flush=True)
        time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    store = Store(database)
    standby = SchedulerLock(store)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not standby.try_acquire()
        assert current_leader(store)[1] is not None and current_leader(store)[0].endswith(f":{holder.pid}")
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        killed, took = time.monotonic(), None
        while time.monotonic() - killed < 10:
            if standby.try_acquire():
                took = time.monotonic() - killed
                break
            time.sleep(0.05)
        assert took is not None and took < 3
        assert current_leader(store)[0].endswith(f":{os.getpid()}") and standby.still_held()
    finally:
        holder.kill()
        standby.release()
        store.dispose()


def test_two_web_servers_share_the_interaction_log_on_postgres(database, tmp_path):
    from recommender.data import Interaction, Item
    from recommender.store import Store, UnknownItemError

    folder_store = Store(tmp_path / "store.sqlite")  # what `recommender fit` leaves in the folder
    folder_store.add_items([Item("i1", "One", "", ()), Item("i2", "Two", "", ("t",))])
    folder_store.add_interactions([Interaction("u1", "i1", "rating", 1.0, 4.0),
                                   Interaction("u1", "i2", "view", 2.0, None)])
    first, second = Store(database), Store(database)
    assert first.adopt(folder_store) == 4 and second.adopt(folder_store) == 0  # filled once
    assert [i.id for i in second.items()] == ["i1", "i2"] and second.items()[1].tags == ("t",)
    before = second.signature()
    rows, seq = second.interactions_since(0)
    assert [(r.user, r.item, r.rating) for r in rows] == [("u1", "i1", 4.0), ("u1", "i2", None)]
    first.add_interactions([Interaction("u2", "i2", "view", 3.0, None)])
    assert second.signature() != before
    assert [(r.user, r.item) for r in second.interactions_since(seq)[0]] == [("u2", "i2")]
    with pytest.raises(UnknownItemError):
        first.add_interactions([Interaction("u2", "nope", "view", 4.0, None)])
    assert second.count_interactions() == 3
    for store in (first, second, folder_store):
        store.close()


def _http_server(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                            cwd=REPO / "docs", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_the_proxy_sends_requests_around_a_replica_killed_with_sigkill(tmp_path):
    from shared.app.proxy import proxy_services
    from shared.product import Service

    ports = [free_port(), free_port()]
    replicas = [_http_server(port) for port in ports]
    front = free_port()
    services = [Service(f"docs-{n}", [], port=port, front_port=front, front_key="test.port", check_path="/")
                for n, port in enumerate(ports, 1)]
    [proxy] = proxy_services("127.0.0.1", services, tmp_path)
    assert proxy.name == "proxy-docs" and proxy.port == front and proxy.port_key == "test.port"
    haproxy = subprocess.Popen(proxy.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not proxy.ready() and time.monotonic() < deadline:
            time.sleep(0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{front}", timeout=10) as client:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and client.get("/scale.md").status_code != 200:
                time.sleep(0.2)
            assert client.get("/scale.md").status_code == 200
            os.kill(replicas[0].pid, signal.SIGKILL)
            replicas[0].wait(10)
            statuses = [client.get("/scale.md").status_code for _ in range(30)]
        assert statuses == [200] * 30  # a refused connection is retried on the live replica
    finally:
        haproxy.kill()
        for replica in replicas:
            replica.kill()


def test_scale_out_settings_refuse_what_cannot_work():
    from pydantic import ValidationError

    from shared.product import SuiteSettings

    with pytest.raises(ValidationError, match="replicas needs backend: postgres and redis_url"):
        SuiteSettings(replicas=2)
    with pytest.raises(ValidationError, match="backend postgres needs database_url"):
        SuiteSettings(backend="postgres")
    with pytest.raises(ValidationError, match="postgresql://"):
        SuiteSettings(backend="postgres", database_url="mysql://x@y/z")
    assert SuiteSettings(backend="postgres", database_url="postgresql://a@b/c", redis_url="redis://r",
                         replicas=2).replicas == 2


def test_a_wrong_database_password_stops_the_run_before_anything_starts(database, monkeypatch):
    from shared.app.backends import check_backends, check_database
    from shared.errors import CommandError
    from shared.product import SuiteSettings

    check_database(database)  # the right password, from the environment
    monkeypatch.setenv("NLPSUITE_DB_PASSWORD", "s3cr3t-but-not-it")
    with pytest.raises(CommandError, match=r"suite.database_url: cannot log in.*\$NLPSUITE_DB_PASSWORD") as error:
        check_backends(SuiteSettings(backend="postgres", database_url=database))
    assert "s3cr3t-but-not-it" not in str(error.value)


def test_rasa_gets_the_redis_lock_store_with_its_password_from_the_environment(tmp_path, monkeypatch):
    import yaml

    from chatbot.project import write_endpoints
    from chatbot.settings import ChatbotSettings

    monkeypatch.setenv("NLPSUITE_REDIS_PASSWORD", "redis-secret")
    settings = ChatbotSettings(tracker_store="postgresql://bot@db:5432/suite", lock_store="redis://cache:6380/2",
                               tracker_password_env="NLPSUITE_DB_PASSWORD")
    text = write_endpoints(tmp_path, settings).read_text()
    endpoints = yaml.safe_load(text)
    assert endpoints["lock_store"] == {"type": "redis", "url": "cache", "port": 6380, "db": 2, "key_prefix": "nlpsuite",
                                       "use_ssl": False, "password": "${NLPSUITE_REDIS_PASSWORD}"}
    assert endpoints["tracker_store"]["password"] == "${NLPSUITE_DB_PASSWORD}"
    assert "redis-secret" not in text
    assert "lock_store" not in yaml.safe_load(write_endpoints(tmp_path, ChatbotSettings()).read_text())


def test_each_rasa_replica_takes_its_share_of_the_per_sender_limit(monkeypatch):
    from chatbot.channels import GuardedRestInput

    assert GuardedRestInput(30).limit.per_minute == 30
    monkeypatch.setenv("NLPSUITE_RASA_REPLICAS", "2")  # set by `nlpsuite run` for suite.replicas: 2
    channel = GuardedRestInput(30)
    assert channel.limit.per_minute == 15 and channel.sessions.per_minute >= 1
