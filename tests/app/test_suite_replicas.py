"""`nlpsuite run` scaled out, end to end: ``suite.backend: postgres`` and ``suite.replicas: 2`` on a
real PostgreSQL and Redis (Debian's packages, private servers on 127.0.0.1) with HAProxy in
front, from a clean var/ folder, driven through the ports a user knows.

Conversations, interactions and the monitor's state land in PostgreSQL (read back with SQL);
a Rasa replica killed with SIGKILL costs no later message; the monitor holding the scheduler
lock is killed and the standby takes over; the demo's FIRING mail is sent once; Ctrl-C stops
every process, HAProxy included.
"""
from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy
import yaml

from bench.servers import start_postgres, start_redis
from rec_testlib import build_tiny_encoder, make_catalogue, tiny_fit_config
from web_testlib import free_port, processes_with, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture
def servers():
    postgres = start_postgres("replicas-e2e-secret")
    redis = start_redis(Path(tempfile.mkdtemp(prefix="nlpsuite-redis-")))
    yield postgres, redis
    redis.stop()
    postgres.stop()


def _recommender(tmp_path: Path) -> Path:
    from recommender.model import fit

    (tmp_path / "catalogue").mkdir()
    catalogue = make_catalogue(tmp_path / "catalogue")
    encoder = build_tiny_encoder(tmp_path / "rec_bert", tmp_path / "rec_encoder", catalogue.items)
    fit(catalogue.items, catalogue.interactions, tmp_path / "recommender", tiny_fit_config(encoder))
    return tmp_path / "recommender"


def _leader(database) -> tuple[str, int]:
    with database.connect() as connection:
        row = connection.execute(sqlalchemy.text("SELECT holder, pid FROM scheduler_leader")).one()
    return row.holder, row.pid


def test_two_replicas_on_postgres_and_redis_lose_nothing_when_one_of_each_is_killed(
        tmp_path, servers, quick_intents, quick_sentiment):
    postgres, redis = servers
    var, ports = tmp_path / "var", {name: free_port() for name in ("web", "outbox", "rasa", "actions")}
    config = tmp_path / "nlpsuite.yml"
    config.write_text(yaml.safe_dump({
        "suite": {"var_dir": str(var), "web_port": ports["web"], "outbox_port": ports["outbox"], "threads": 1,
                  "upgrade": False, "backend": "postgres", "database_url": postgres.url(with_password=False),
                  "redis_url": f"redis://127.0.0.1:{redis.port}/1", "replicas": 2,
                  "replica_port_offset": 7, "models": {"intents": str(quick_intents), "phrasebank": str(quick_sentiment)}},
        "chatbot": {"rasa_port": ports["rasa"], "action_port": ports["actions"], "classifier": {"threads": 1}},
        "finsentiment": {"threads": 1, "poll_interval_s": 5, "recipients": ["analyst@example.com"]},
        "recommender": {"model_dir": str(_recommender(tmp_path))},
    }))
    log, effective = tmp_path / "run.log", var / "nlpsuite.effective.yml"
    env = {**os.environ, "NLPSUITE_DB_PASSWORD": postgres.password}
    with open(log, "wb") as output:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "nlpsuite"), "run", "--config", str(config)],
                                cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    database = sqlalchemy.create_engine(postgres.url())
    try:
        wait_for(lambda: "nlpsuite is running" in log.read_text(errors="replace"), 900, "the suite", proc, log)
        assert postgres.password not in effective.read_text() and postgres.password not in log.read_text()
        _chat_survives_a_killed_rasa_replica(var, ports, database)
        _recommendations_go_to_postgres(var, ports, database)
        _standby_monitor_takes_over(var, database, proc, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = "killed"
        database.dispose()
    assert code == 0, log.read_text()[-4000:]
    assert processes_with(str(effective)) == []  # the replicas, both monitors and HAProxy stopped


def _chat_survives_a_killed_rasa_replica(var: Path, ports: dict, database) -> None:
    from chatbot.senders import request_sender

    rasa = f"http://127.0.0.1:{ports['rasa']}"  # HAProxy, in front of rasa-1 and rasa-2
    sender = request_sender(rasa)
    webhook = f"{rasa}/webhooks/rest/webhook"
    for text in ("hello there", "how do I activate my card?"):
        answer = httpx.post(webhook, json={"sender": sender, "message": text}, timeout=120)
        assert answer.status_code == 200 and answer.json(), answer.text
    os.kill(int((var / "logs" / "rasa-1.pid").read_text()), signal.SIGKILL)
    time.sleep(0.5)
    for n in range(6):  # both replicas' turn comes round: none may fail
        answer = httpx.post(webhook, json={"sender": sender, "message": f"thanks, bye {n}"}, timeout=120)
        assert answer.status_code == 200, answer.text
    with database.connect() as connection:
        users = connection.execute(sqlalchemy.text(
            "SELECT count(*) FROM events WHERE sender_id = :s AND type_name = 'user'"), {"s": sender}).scalar()
    assert users == 8  # every turn in PostgreSQL's tracker, none twice


def _recommendations_go_to_postgres(var: Path, ports: dict, database) -> None:
    from shared.product.token import load_api_token

    web, token = f"http://127.0.0.1:{ports['web']}", load_api_token(var, create=False)
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):  # round robin: each web server loads the folder (the first fills PostgreSQL)
        answer = httpx.get(f"{web}/recommender/recommend", params={"user": "space-fan-0", "k": 3}, headers=headers,
                           timeout=60)
        assert answer.status_code == 200, answer.text
    with database.connect() as connection:
        before = connection.execute(sqlalchemy.text("SELECT count(*) FROM interactions")).scalar()
    assert before > 0  # filled from the folder's store, once
    posted = httpx.post(f"{web}/recommender/interactions", headers=headers,
                        json={"user": "space-fan-0", "item": "sp01", "event": "view"})
    assert posted.status_code == 201, posted.text
    with database.connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT count(*) FROM interactions")).scalar() == before + 1
    for _ in range(4):  # round robin: both web servers answer, each reading the shared log
        answer = httpx.get(f"{web}/recommender/recommend", params={"user": "space-fan-0", "k": 3}, headers=headers)
        assert answer.status_code == 200 and len(answer.json()["items"]) == 3, answer.text
    assert httpx.get(f"{web}/recommender/recommend", params={"user": "space-fan-0"}).status_code == 401


def _standby_monitor_takes_over(var: Path, database, proc, log: Path) -> None:
    mails = lambda: [m for m in (email.message_from_bytes(p.read_bytes()) for p in (var / "outbox").glob("*.eml"))
                     if str(m["Subject"]).startswith("[finsentiment]")]  # noqa: E731
    wait_for(mails, 180, "the demo's FIRING mail", proc, log)
    holder, pid = _leader(database)
    assert pid in {int((var / "logs" / f"monitor-{n}.pid").read_text()) for n in (1, 2)}
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: _leader(database)[1] != pid, 10, "the standby monitor to take the lock", proc, log)
    assert time.monotonic() - killed < 5
    time.sleep(12)  # the new active monitor polls at once, then every 5 s: nothing may be mailed again
    ids = [m["Message-ID"] for m in mails()]
    assert len(ids) == len(set(ids)) and any("FIRING" in str(m["Subject"]) for m in mails())
