"""The ``probes`` part of bench.security: a stranger's requests against a live suite, a crash
loop under load, a hostile feed server, two pollers at once. Each probe is one row:
``{"name", "expected", "observed", "ok"}``.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

CRASHES, CRASH_WINDOW_S = 4, 120


def row(name: str, expected: str, observed, ok: bool) -> dict:
    return {"name": name, "expected": expected, "observed": observed, "ok": bool(ok)}


def _raw_status(port: int, request: bytes) -> int:
    """The status of a hand-written HTTP request (for bytes httpx would refuse to send)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        line = conn.recv(4096).split(b"\r\n", 1)[0]
    return int(line.split()[1])


def request_probes(web: str, actions: str, web_port: int, token: str) -> list[dict]:
    """Malformed credentials, body before token, oversized bodies, NaN, Host, CSRF, rate limit."""
    auth = {"Authorization": f"Bearer {token}"}
    rows = []
    raw = (b"POST /recommender/interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Authorization: Bearer \xc3\xa9\xff\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    status = _raw_status(web_port, raw)
    rows.append(row("web: a Bearer header with non-ASCII bytes", "401", status, status == 401))
    status = httpx.post(f"{actions}/webhook", params={"token": "é"}, json={}).status_code
    rows.append(row("action server: ?token=é", "401", status, status == 401))
    status = httpx.post(f"{web}/recommender/interactions", content=b"{not json",
                        headers={"content-type": "application/json"}).status_code
    rows.append(row("web: malformed JSON without a token", "401 (the token before the body)", status, status == 401))
    big = b'{"user": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    status = httpx.post(f"{web}/recommender/interactions", content=big, headers=auth | {
        "content-type": "application/json"}).status_code
    rows.append(row("web: a 2 MiB body", "413", status, status == 413))
    status = httpx.post(f"{web}/recommender/interactions", headers=auth | {"content-type": "application/json"},
                        content=b'{"user": "u", "item": "1", "event": "rate", "rating": NaN}').status_code
    rows.append(row("web: a NaN rating", "422", status, status == 422))
    status = httpx.get(f"{web}/recommender/recommend", params={"user": "1"}).status_code
    rows.append(row("web: a user's recommendations without credentials", "401", status, status == 401))
    status = httpx.get(f"{web}/recommender/", params={"user": "1"}).status_code
    rows.append(row("web: the lookup page without signing in", "401", status, status == 401))
    status = httpx.get(f"{web}/health", headers={"host": "evil.example"}).status_code
    rows.append(row("web: Host: evil.example (DNS rebinding)", "400", status, status == 400))
    status = httpx.post(f"{web}/chatbot/webhook", content=b'{"sender": "s", "message": "hi"}',
                        headers={"content-type": "text/plain"}).status_code
    rows.append(row("web: a text/plain cross-site POST to the chat webhook", "415", status, status == 415))
    status = httpx.post(f"{web}/chatbot/webhook", json={"sender": "s", "message": "hi"},
                        headers={"origin": "http://evil.example"}).status_code
    rows.append(row("web: a POST with a foreign Origin", "403", status, status == 403))
    statuses = [httpx.post(f"{web}/chatbot/webhook", json={"sender": f"burst-{i}", "message": "hello"},
                           timeout=60).status_code for i in range(80)]
    limited = statuses.count(429)
    rows.append(row("web: 80 messages from 80 sender ids in one burst", "some refused (429)",
                    {"429": limited, "other": len(statuses) - limited}, limited > 0))
    return rows


def crash_loop_probe(web: str, rasa: str, logs: Path, token: str) -> dict:
    """The monitor killed ``CRASHES`` times within ``CRASH_WINDOW_S`` while a client chats and
    asks for recommendations back to back: none of its requests may fail."""
    from chatbot.senders import issue, sender_key

    failures, requests, stop = [], [0], threading.Event()
    key = sender_key(token)  # a new conversation each time: Rasa's per-sender limit is not what is probed

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                for call in (lambda: http.post(f"{rasa}/webhooks/rest/webhook",
                                               json={"sender": issue(key, "crash-loop"), "message": "what are your fees"}),
                             lambda: http.get(f"{web}/recommender/recommend", params={"user": "1", "k": 5},
                                              headers={"Authorization": f"Bearer {token}"})):
                    try:
                        status = call().status_code
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    requests[0] += 1
                    if status != 200:
                        failures.append(str(status))
                time.sleep(0.2)

    thread = threading.Thread(target=client)
    thread.start()
    killed = []
    try:
        for _ in range(CRASHES):
            pid = _wait_for_pid(logs / "monitor.pid", previous=killed[-1] if killed else None)
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            time.sleep(CRASH_WINDOW_S / CRASHES / 2)
        time.sleep(10)
    finally:
        stop.set()
        thread.join(60)
    health = httpx.get(f"{web}/health").json()
    monitor = health.get("services", {}).get("monitor", {})
    observed = {"killed": len(killed), "client_requests": requests[0], "failed": len(failures),
                "failure_examples": sorted(set(failures))[:5],
                "monitor_state_on_health": monitor.get("state"), "health": health.get("status")}
    return row(f"the monitor killed {CRASHES} times in {CRASH_WINDOW_S} s under load",
               "0 failed chat and recommendation requests; the monitor restarted or marked failed",
               observed, not failures and monitor.get("state") in ("ready", "starting", "waiting", "failed"))


def _wait_for_pid(path: Path, previous: int | None, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            pid = int(path.read_text().strip())
            if pid != previous and Path(f"/proc/{pid}").exists():
                return pid
        time.sleep(0.5)
    raise SystemExit(f"no new process in {path} within {timeout_s:.0f} s")


class _Hostile(BaseHTTPRequestHandler):
    """A feed server that attacks its reader: a gzip bomb, an endless trickle, a huge body, entities."""

    def do_GET(self):  # noqa: N802 (http.server hook)
        bodies = {"/bomb.xml": (gzip.compress(b" " * (64 * 1024 * 1024)), "gzip"),
                  "/huge.xml": (b"<rss>" + b" " * (64 * 1024 * 1024), None),
                  "/entities.xml": (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                                    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><item>'
                                    b'<title>&b;</title></item></channel></rss>', None)}
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if self.path == "/trickle.xml":
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(600):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            return
        body, encoding = bodies[self.path]
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def log_message(self, *args):
        pass


def hostile_feed_probes() -> list[dict]:
    """The monitor's fetcher, with the default limits of a feed, against ``_Hostile``."""
    from finsentiment.config import FeedConfig
    from finsentiment.fetching import FeedError, SchemeFetcher, parse_feed

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rows, fetcher = [], SchemeFetcher()
    try:
        for path, expected in (("/bomb.xml", "refused at the size cap"), ("/huge.xml", "refused at the size cap"),
                               ("/trickle.xml", "abandoned at the deadline"),
                               ("/entities.xml", "refused: entity expansion")):
            feed = FeedConfig(name=path, url=f"http://127.0.0.1:{server.server_address[1]}{path}")
            started = time.monotonic()
            try:
                parse_feed(fetcher.fetch(feed.url, limits=feed.limits()))
                observed, ok = "read", False
            except FeedError as exc:
                observed, ok = str(exc).split(": ", 1)[-1][:160], True
            seconds = time.monotonic() - started
            rows.append(row(f"feed: {path[1:]}", f"{expected}, within the deadline",
                            {"error": observed, "seconds": round(seconds, 1)},
                            ok and seconds <= feed.deadline_s + feed.timeout_s))
    finally:
        server.shutdown()
    return rows


def concurrent_pollers_probe(folder: Path) -> dict:
    """Two pollers deliver the same queue at once through a slow notifier: each alert once."""
    from datetime import datetime

    from finsentiment.config import FinSentimentConfig
    from finsentiment.notify import deliver_pending
    from finsentiment.store import FIRING, PENDING, Alert, Store

    class Slow:
        def __init__(self):
            self.subjects, self.lock = [], threading.Lock()

        def send(self, message):
            time.sleep(0.05)
            with self.lock:
                self.subjects.append(message["Subject"])

    folder.mkdir(parents=True, exist_ok=True)
    config = FinSentimentConfig(database_url=f"sqlite:///{folder / 'pollers.db'}", outbox_dir=str(folder / "outbox"),
                                smtp={"retries": 1, "backoff_s": 0})
    store, notifier, when = Store(config.database_url), Slow(), datetime(2024, 1, 1)
    with store.session() as s:
        s.add_all([Alert(topic=f"T{i}", group_key=f"T{i}@1", kind=FIRING, window_start=when, window_end=when,
                         n_items=5, n_negative=5, negative_share=1.0, baseline=0.1, status=PENDING, attempts=0,
                         created_at=when) for i in range(20)])
    pollers = [threading.Thread(target=deliver_pending, args=(store, notifier, config)) for _ in range(2)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join()
    duplicates = len(notifier.subjects) - len(set(notifier.subjects))
    return row("two pollers deliver 20 alerts at once", "20 mails, none twice",
               {"mails": len(notifier.subjects), "duplicates": duplicates},
               len(notifier.subjects) == 20 and duplicates == 0)
