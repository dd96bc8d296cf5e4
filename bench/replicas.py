"""The suite scaled out on one machine: PostgreSQL, Redis, two of each server, one lost under load.

    python -m bench.replicas [--chats 50 --rec-clients 20 --seconds 90 --throughput-seconds 30] [--smoke]

Starts a private PostgreSQL and Redis on 127.0.0.1 (Debian's packages, ``bench.servers``) and
`nlpsuite run` in bench/work/replicas/ on its own ports with ``suite.backend: postgres``, a fresh
database per run, and the main job's models (``bench.suite``). Then:

1. **Throughput**, with ``suite.replicas`` 1 and then 2, one after the other in this run:
   ``--chats`` chat sessions sending back to back (no pause) through the proxy on Rasa's port
   for ``--throughput-seconds``, then ``--rec-clients`` recommendation clients the same way
   through the proxy on the web port. Requests per second, p50/p95 and errors for each.
2. **Replicas lost under load** (2 replicas): ``--chats`` sessions with a person's pause between
   turns (``--think``, 2-6 s as in ``bench.load``) and ``--rec-clients`` recommendation clients
   (a request every ``--rec-think``, 0.5-1.5 s) for ``--seconds``: a load these 2 cores carry,
   so that what fails is what the kills cause, not saturation (part 1 measures that). At a
   quarter of the time ``rasa-1`` gets ``kill -9``, at half ``web-1``, at three quarters the
   monitor that holds the scheduler lock; a few seconds before that, new negative headlines
   about a topic (Acme) go into a demo feed, so an alert is due around the takeover. Reported:
   - ``failed_outside_kill_windows``: failed requests ending outside 2 s windows centred on
     the kills (those inside are counted apart: a killed server's requests in flight fail);
   - ``tracker_events_lost``: messages answered 200 whose user event is not in the tracker
     (every tracker is read back from Rasa's API; each message carries its number in metadata);
   - ``out_of_order_turns``: user events of a conversation stored out of sending order, or twice;
   - ``monitor_takeover_seconds``: from the kill until the standby holds the scheduler lock;
   - ``double_mails``: alert mails in the outbox whose Message-ID was already delivered.

Results: bench/results/replicas.json. Two cores carry everything here (PostgreSQL, Redis,
HAProxy, two Rasa servers, two web servers, two monitors and the load generator), so the
second replica can only add resilience, not speed: see docs/scale.md.
"""
from __future__ import annotations

import argparse
import asyncio
import email
import json
import logging
import os
import random
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import WORK, update_results
from bench.load import _percentiles
from bench.servers import start_postgres, start_redis
from bench.suite import Ports, start_suite
from chatbot.senders import issue, sender_key

logger = logging.getLogger("bench.replicas")
PORTS = Ports(web=8102, outbox=8027, rasa=5007, actions=5057)
KILL_WINDOW_S = 2.0
CHAT_TEXTS = ("hello there", "my new card still hasn't arrived", "stop", "how do I activate my card?",
              "what's the exchange rate for euros?", "can I get a refund for a purchase?", "thanks, bye",
              "I think someone has my card details", "why was I charged a fee?", "how long does a transfer take?")
ACME_HEADLINES = ("Acme shares plunged after the company warned of heavy losses",
                  "Acme cuts its outlook as sales collapse and losses widen",
                  "Acme profit fell sharply and the company announced layoffs",
                  "Acme warns of a steep drop in operating profit",
                  "Acme's net loss widened and revenue declined",
                  "Acme slashes jobs as demand falls and losses mount",
                  "Acme operating profit decreased significantly from a year earlier",
                  "Acme said sales will fall sharply next year")


@dataclass
class Calls:
    """Every request of a load run: (kind, start s, end s, problem or None)."""

    started: float = field(default_factory=time.perf_counter)
    rows: list = field(default_factory=list)
    acknowledged: dict = field(default_factory=dict)
    """sender -> message numbers answered 200, in sending order."""

    def add(self, kind: str, t0: float, problem: str | None) -> None:
        self.rows.append((kind, t0 - self.started, time.perf_counter() - self.started, problem))

    def summary(self, kind: str, wall: float) -> dict:
        rows = [r for r in self.rows if r[0] == kind]
        return {"requests": len(rows), "requests_per_s": round(len(rows) / wall, 1),
                "latency_ms": _percentiles([(r[2] - r[1]) * 1000 for r in rows if r[3] is None]),
                "errors": sum(1 for r in rows if r[3]), "error_examples": [r[3] for r in rows if r[3]][:5]}


async def chat_session(client: httpx.AsyncClient, rasa: str, sender: str, deadline: float, think: tuple,
                       rng: random.Random, calls: Calls) -> None:
    """One person's conversation until ``deadline``; each message carries its number in metadata."""
    calls.acknowledged[sender] = []
    number = 0
    while time.perf_counter() < deadline:
        await asyncio.sleep(rng.uniform(*think))
        number += 1
        t0, problem = time.perf_counter(), None
        try:
            response = await client.post(f"{rasa}/webhooks/rest/webhook", json={
                "sender": sender, "message": rng.choice(CHAT_TEXTS), "metadata": {"bench_turn": number}})
            if response.status_code != 200 or not isinstance(response.json(), list):
                problem = f"chat HTTP {response.status_code}: {response.text[:100]}"
        except (httpx.HTTPError, ValueError) as exc:
            problem = f"chat {type(exc).__name__}: {exc}"
        calls.add("chat", t0, problem)
        if problem is None:
            calls.acknowledged[sender].append(number)


async def recommend_client(client: httpx.AsyncClient, web: str, token: str, users: list, items: list,
                           deadline: float, think: tuple, rng: random.Random, calls: Calls) -> None:
    """Recommendations for random users, ``think`` seconds apart (0: back to back); one in twenty
    first posts a view."""
    headers = {"Authorization": f"Bearer {token}"}
    while time.perf_counter() < deadline:
        if think[1]:
            await asyncio.sleep(rng.uniform(*think))
        user = rng.choice(users)
        if rng.random() < 0.05:
            t0, problem = time.perf_counter(), None
            try:
                response = await client.post(f"{web}/recommender/interactions", headers=headers,
                                             json={"user": user, "item": rng.choice(items), "event": "view"})
                problem = None if response.status_code == 201 else f"post HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = f"post {type(exc).__name__}: {exc}"
            calls.add("interaction", t0, problem)
        t0, problem = time.perf_counter(), None
        try:
            response = await client.get(f"{web}/recommender/recommend", params={"user": user, "k": 10},
                                        headers=headers)
            if response.status_code != 200 or len(response.json().get("items", [])) != 10:
                problem = f"recommend HTTP {response.status_code}: {response.text[:100]}"
        except (httpx.HTTPError, ValueError) as exc:
            problem = f"recommend {type(exc).__name__}: {exc}"
        calls.add("recommend", t0, problem)


async def load(seconds: float, chats: int, rec_clients: int, think: tuple, token: str, workload: tuple,
               events=(), rec_think: tuple = (0.0, 0.0)) -> Calls:
    """Run the clients for ``seconds``; ``events``: (at seconds, coroutine function) run meanwhile."""
    users, items = workload
    calls = Calls()
    deadline = calls.started + seconds
    key = sender_key(token)
    limits = httpx.Limits(max_connections=chats + rec_clients + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        tasks = [chat_session(client, PORTS.url("rasa"), issue(key, "bench"), deadline, think, random.Random(n), calls)
                 for n in range(chats)]
        tasks += [recommend_client(client, PORTS.url("web"), token, users, items, deadline, rec_think,
                                   random.Random(100 + n), calls) for n in range(rec_clients)]

        async def at(offset: float, action):
            await asyncio.sleep(max(0.0, calls.started + offset - time.perf_counter()))
            await action(calls)

        await asyncio.gather(*tasks, *(at(offset, action) for offset, action in events))
    calls.wall = time.perf_counter() - calls.started
    return calls


class Kills:
    """The three kills of the resilience run and what they measured."""

    def __init__(self, suite, database_url: str, feeds: Path):
        self.suite, self.database_url, self.feeds = suite, database_url, feeds
        self.log: list[dict] = []

    def _pid(self, service: str) -> int:
        return int((self.suite.logs / f"{service}.pid").read_text())

    def _kill(self, calls: Calls, service: str, pid: int) -> dict:
        os.kill(pid, signal.SIGKILL)
        row = {"service": service, "pid": pid, "at_s": round(time.perf_counter() - calls.started, 2)}
        self.log.append(row)
        logger.info("kill -9 %s (pid %d) at %.1f s", service, pid, row["at_s"])
        return row

    async def rasa(self, calls: Calls) -> None:
        self._kill(calls, "rasa-1", self._pid("rasa-1"))

    async def web(self, calls: Calls) -> None:
        self._kill(calls, "web-1", self._pid("web-1"))

    async def news(self, calls: Calls) -> None:
        """New negative headlines about Acme into a demo feed, so an alert is due around the takeover."""
        add_headlines(self.feeds / "company-briefs.xml", ACME_HEADLINES)
        logger.info("added %d Acme headlines to the company-briefs feed", len(ACME_HEADLINES))

    async def monitor(self, calls: Calls) -> None:
        """Kill the monitor holding the scheduler lock; time until the standby holds it."""
        from finsentiment.leader import current_leader
        from finsentiment.store import Store

        store = Store(self.database_url)
        try:
            holder, _ = current_leader(store)
            pid = int(holder.rsplit(":", 1)[1])
            service = next(name for name in ("monitor-1", "monitor-2") if self._pid(name) == pid)
            row = self._kill(calls, service, pid)
            killed_at = time.perf_counter()
            while time.perf_counter() - killed_at < 60:
                leader = current_leader(store)
                if leader and not leader[0].endswith(f":{pid}"):
                    row["standby_took_over_s"] = round(time.perf_counter() - killed_at, 2)
                    row["new_holder"] = leader[0]
                    break
                await asyncio.sleep(0.05)
        finally:
            store.dispose()


def add_headlines(feed: Path, titles) -> None:
    """Append items to an RSS file the monitor polls (written beside it and renamed into place)."""
    from email.utils import formatdate
    from xml.sax.saxutils import escape

    stamp = int(time.time())
    items = "".join(f"    <item>\n      <title>{escape(t)}</title>\n      <guid isPermaLink=\"false\">acme-{stamp}-{n}</guid>\n"
                    f"      <pubDate>{formatdate(time.time() - 60 * n, usegmt=True)}</pubDate>\n    </item>\n"
                    for n, t in enumerate(titles))
    text = feed.read_text(encoding="utf-8").replace("  </channel>", items + "  </channel>", 1)
    partial = feed.with_suffix(".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(feed)


async def check_trackers(calls: Calls, token: str) -> dict:
    """Every conversation's tracker read back: acknowledged messages missing, and user events
    stored out of sending order or twice."""
    lost = out_of_order = events = 0
    async with httpx.AsyncClient(timeout=60) as client:
        for sender, numbers in calls.acknowledged.items():
            response = await client.get(f"{PORTS.url('rasa')}/conversations/{sender}/tracker", params={"token": token})
            response.raise_for_status()
            stored = [((e.get("metadata") or {}).get("bench_turn")) for e in response.json().get("events", [])
                      if e.get("event") == "user"]
            stored = [n for n in stored if n is not None]
            events += len(stored)
            lost += len(set(numbers) - set(stored))
            out_of_order += sum(1 for a, b in zip(stored, stored[1:]) if b <= a)
    return {"tracker_events_lost": lost, "out_of_order_turns": out_of_order, "user_events_read": events,
            "messages_acknowledged": sum(len(v) for v in calls.acknowledged.values())}


def outbox_mails(outbox: Path) -> dict:
    """Alert mails in the outbox and how many repeat a Message-ID already delivered."""
    ids = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        if "finsentiment" in (message.get("From") or ""):
            ids.append(message.get("Message-ID"))
    return {"alert_mails": len(ids), "double_mails": len(ids) - len(set(ids)),
            "subjects_sent": len(set(ids))}


def split_failures(calls: Calls, kills: list[dict]) -> dict:
    """Failed requests by whether they ended within ``KILL_WINDOW_S`` centred on a kill."""
    half = KILL_WINDOW_S / 2
    inside, outside = [], []
    for kind, _, ended, problem in calls.rows:
        if problem:
            near = any(abs(ended - k["at_s"]) <= half for k in kills)
            (inside if near else outside).append(f"{kind} at {ended:.1f} s: {problem}")
    return {"failed_outside_kill_windows": len(outside), "failed_inside_kill_windows": len(inside),
            "outside_examples": outside[:8], "inside_examples": inside[:8]}


class Backends:
    """PostgreSQL and Redis of the run's own, and a fresh database for each suite started."""

    def __init__(self):
        self.postgres = start_postgres("bench-replicas-secret")
        self.redis = start_redis(Path(tempfile.mkdtemp(prefix="nlpsuite-redis-")))
        self.databases = 0

    def suite_keys(self, replicas: int) -> dict:
        self.databases += 1
        name = f"suite{self.databases}"
        self.postgres.create_database(name)
        return {"backend": "postgres", "database_url": self.postgres.url(name, with_password=False),
                "redis_url": f"redis://127.0.0.1:{self.redis.port}/{self.databases}", "replicas": replicas,
                "upgrade": False, "client_requests_per_minute": 1_000_000}

    @property
    def env(self) -> dict:
        return {"NLPSUITE_DB_PASSWORD": self.postgres.password}

    def stop(self) -> None:
        self.redis.stop()
        self.postgres.stop()


def sections() -> dict:
    """The products' settings for the run: the clients stand for many people (no per-sender
    message limit), the monitor polls every 3 s and also follows a topic called Acme."""
    from finsentiment.config import _default_topics

    topics = [json.loads(t.json()) for t in _default_topics()] + [{"name": "Acme", "keywords": ["Acme"]}]
    return {"chatbot": {"messages_per_minute": 1_000_000},
            "finsentiment": {"poll_interval_s": 3, "topics": topics}}


def start(root: Path, backends: Backends, replicas: int):
    suite_keys = backends.suite_keys(replicas)
    suite = start_suite(root, PORTS, suite=suite_keys, env=backends.env, sections=sections())
    suite.database_url = f"{suite_keys['database_url']}"
    return suite


def workload() -> tuple[list, list]:
    from recommender.movielens import load_movielens100k

    items, rows = load_movielens100k()
    return sorted({row.user for row in rows}), [item.id for item in items]


def throughput(root: Path, backends: Backends, replicas: int, options, users_items) -> dict:
    """Chat, then recommendations, each back to back for ``--throughput-seconds``."""
    suite = start(root, backends, replicas)
    try:
        token = suite.api_token()
        chat = asyncio.run(load(options.throughput_seconds, options.chats, 0, (0.0, 0.0), token, users_items))
        rec = asyncio.run(load(options.throughput_seconds, 0, options.rec_clients, (0.0, 0.0), token, users_items))
        return {"chat": chat.summary("chat", chat.wall), "recommend": rec.summary("recommend", rec.wall)}
    finally:
        suite.stop()


def resilience(root: Path, backends: Backends, options, users_items) -> dict:
    """2 replicas under chat and recommendation load; kill -9 rasa-1, web-1, the active monitor."""
    suite = start(root, backends, 2)
    try:
        token, seconds = suite.api_token(), options.seconds
        os.environ["NLPSUITE_DB_PASSWORD"] = backends.postgres.password  # the bench reads the leader row
        kills = Kills(suite, suite.database_url, suite.var / "finsentiment" / "demo-feeds")
        events = [(seconds / 4, kills.rasa), (seconds / 2, kills.web), (seconds * 3 / 4 - 4, kills.news),
                  (seconds * 3 / 4, kills.monitor)]
        think, rec_think = (tuple(float(x) for x in value.split(",")) for value in (options.think, options.rec_think))
        calls = asyncio.run(load(seconds, options.chats, options.rec_clients, think, token, users_items, events,
                                 rec_think))
        time.sleep(10)  # the new active monitor's first cycles deliver what is due
        result = {**split_failures(calls, kills.log), **asyncio.run(check_trackers(calls, token)),
                  **outbox_mails(suite.var / "outbox"), "kills": kills.log,
                  "chat": calls.summary("chat", calls.wall), "recommend": calls.summary("recommend", calls.wall)}
        result["monitor_takeover_seconds"] = next((k.get("standby_took_over_s") for k in kills.log
                                                   if k["service"].startswith("monitor")), None)
        return result
    finally:
        suite.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--rec-clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=90, help="length of the run with the kills")
    parser.add_argument("--throughput-seconds", type=float, default=30)
    parser.add_argument("--think", default="2,6", help="a person's pause between chat turns: MIN,MAX seconds")
    parser.add_argument("--rec-think", default="0.5,1.5",
                        help="pause between a recommendation client's requests in the run with the kills: MIN,MAX s")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="5 chats, 3 clients, 20 s runs (plumbing only)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if options.smoke:
        options.chats, options.rec_clients, options.seconds, options.throughput_seconds = 5, 3, 24, 8
    root, backends, users_items = WORK / "replicas", Backends(), workload()
    try:
        result = {"throughput": {}} if not options.skip_throughput else {}
        for replicas in ((1, 2) if not options.skip_throughput else ()):
            result["throughput"][str(replicas)] = throughput(root, backends, replicas, options, users_items)
        resilience_result = resilience(root, backends, options, users_items)
    finally:
        backends.stop()
    result |= {key: resilience_result.pop(key) for key in
               ("tracker_events_lost", "out_of_order_turns", "double_mails", "monitor_takeover_seconds",
                "failed_outside_kill_windows")}
    result["resilience"] = resilience_result
    result["settings"] = {"chats": options.chats, "rec_clients": options.rec_clients, "seconds": options.seconds,
                          "throughput_seconds": options.throughput_seconds, "think_s": options.think,
                          "rec_think_s": options.rec_think,
                          "kill_window_s": KILL_WINDOW_S, "cores": len(os.sched_getaffinity(0)), "smoke": options.smoke}
    out = (root / "replicas.json") if options.smoke else update_results("replicas", result)
    if options.smoke:
        out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
