"""Bounded load test on loopback: the whole suite under concurrent chat and recommendation
traffic, and an action-server crash in the middle of it.

    python -m bench.load [--sessions 50 --turns 20 --rec-clients 20 --rec-seconds 60] [--smoke]

Starts `nlpsuite run` in bench/work/load/ on its own ports (so it never touches a running
`make run`), with the quick profile's models from var/models (prepared if missing) and a copy
of var/recommender, then:

1. **chat**: ``--sessions`` concurrent sessions of ``--turns`` turns each against Rasa's REST
   webhook, BANKING77 test utterances, each session waiting a uniform 2-6 s between turns
   (a person reading the answer and typing the next message; ``--think``); after a third of the turns the action server is
   killed with SIGKILL, and the suite's supervisor starts it again. Afterwards every
   session's tracker is read back from Rasa's HTTP API: each user message sent must be there.
   Then the same sessions again with no pause at all: the saturation throughput (no target).
2. **recommend**: ``--rec-clients`` concurrent clients calling GET /recommender/recommend for
   random MovieLens users, back to back, for ``--rec-seconds``; one iteration in twenty first
   posts a view for that user (``--rec-write-share``), which drops the user's cached answer.

Latency p50/p95, error counts (HTTP status not 200, or no answer) and throughput go to
bench/results/load.json, with the web workers' resident memory. Targets on 2 cores: no
errors, webhook p95 <= 250 ms, recommend p95 <= 150 ms at 150 requests/s or more.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import time
from pathlib import Path

import httpx
import numpy as np

from bench.common import RESULTS, WORK, update_results
from bench.suite import Ports, start_suite
from chatbot.senders import issue, sender_key

logger = logging.getLogger("bench.load")
PORTS = Ports(web=8101, outbox=8026, rasa=5006, actions=5056)


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "mean": None, "n": 0}
    arr = np.asarray(values)
    return {"p50": round(float(np.percentile(arr, 50)), 1), "p95": round(float(np.percentile(arr, 95)), 1),
            "mean": round(float(arr.mean()), 1), "n": len(values)}


RESULTS_FILE = RESULTS / "load.json"


async def chat(sessions: int, turns: int, texts: list[str], pid_file: Path | None, rasa: str, actions: str,
               think: tuple[float, float], token: str) -> dict:
    """Errors are split by time: those of requests that overlap the action server's outage
    (from the kill until it answers /health again) are expected and counted apart."""
    latencies, errors, sent, key = [], [], {}, sender_key(token)
    total, done = sessions * turns, 0
    kill = {"at_turn": total // 3, "done": pid_file is None}

    async def kill_actions():
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        kill.update(done=True, pid=pid, at_s=round(time.perf_counter() - started, 2))
        logger.info("killed the action server (pid %d) after %d turns", pid, done)
        async with httpx.AsyncClient(timeout=2) as probe:
            while True:
                await asyncio.sleep(0.2)
                try:
                    if (await probe.get(f"{actions}/health")).status_code == 200 and int(pid_file.read_text()) != pid:
                        break
                except (httpx.HTTPError, ValueError, OSError):
                    pass
        kill["back_at_s"] = round(time.perf_counter() - started, 2)
        kill["outage_s"] = round(kill["back_at_s"] - kill["at_s"], 2)
        logger.info("the action server is back after %.1f s", kill["outage_s"])

    async def session(client: httpx.AsyncClient, rng: random.Random):
        nonlocal done
        sender = issue(key, "load")  # signed as the REST channel issues them
        sent[sender] = 0
        for _ in range(turns):
            await asyncio.sleep(rng.uniform(*think))
            text = rng.choice(texts)
            t0 = time.perf_counter()
            problem = None
            try:
                response = await client.post(f"{rasa}/webhooks/rest/webhook", json={"sender": sender, "message": text})
                ok = response.status_code == 200 and isinstance(response.json(), list) and response.json()
                if not ok:
                    problem = f"HTTP {response.status_code}: {response.text[:120]} (to {text!r})"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            t1 = time.perf_counter()
            latencies.append((t1 - t0) * 1000)
            if problem:
                errors.append((t0 - started, t1 - started, problem))
            sent[sender] += 1
            done += 1
            if done >= kill["at_turn"] and not kill["done"]:
                kill["done"] = True
                outage.append(asyncio.create_task(kill_actions()))

    outage: list[asyncio.Task] = []
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=sessions + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(session(client, random.Random(n)) for n in range(sessions)))
        wall = time.perf_counter() - started
        await asyncio.gather(*outage)
        found, lost = 0, 0
        for sender, count in sent.items():
            tracker = await _tracker(client, rasa, sender, token)
            users = sum(1 for e in tracker.get("events", []) if e.get("event") == "user")
            found += users
            lost += max(0, count - users)
    return {"sessions": sessions, "turns_per_session": turns, "think_time_s": list(think),
            "webhook_ms": _percentiles(latencies), **_split_errors(errors, kill),
            "requests_per_s": round(len(latencies) / wall, 1), "wall_seconds": round(wall, 1),
            **({"action_server_killed": {k: v for k, v in kill.items() if k != "done"}} if pid_file else {}),
            "tracker": {"user_messages_sent": sum(sent.values()), "user_events_found": found,
                        "user_events_lost": lost}}


async def _tracker(client: httpx.AsyncClient, rasa: str, sender: str, token: str, patience_s: float = 90) -> dict:
    """A session's tracker; waits out a Rasa restart (the supervisor restarts a server that
    stopped answering its health probes under the saturation run) instead of failing the run."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            response = await client.get(f"{rasa}/conversations/{sender}/tracker", params={"token": token})
            response.raise_for_status()
            return response.json()
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(2)


def _split_errors(errors: list[tuple[float, float, str]], kill: dict) -> dict:
    start, end = kill.get("at_s", float("inf")), kill.get("back_at_s", float("inf"))
    during = [e for e in errors if e[1] >= start and e[0] <= end]
    other = [e for e in errors if e not in during]
    return {"errors": len(other), "error_examples": [e[2] for e in other[:5]],
            "errors_during_action_outage": len(during), "outage_error_examples": [e[2] for e in during[:5]]}


async def recommend(clients: int, seconds: float, users: list[str], items: list[str], web: str, token: str,
                    write_share: float = 0.05) -> dict:
    """``clients`` back-to-back clients for ``seconds``: GET /recommender/recommend for random
    users, and now and then (``write_share``) a POST /recommender/interactions for that user
    first, so the answer cache is dropped under load as it would be in use."""
    latencies, post_latencies, errors, cached = [], [], [], 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def client_loop(client: httpx.AsyncClient, rng: random.Random):
        nonlocal cached
        while time.perf_counter() < deadline:
            user = rng.choice(users)
            if rng.random() < write_share:
                t0 = time.perf_counter()
                try:
                    response = await client.post(f"{web}/recommender/interactions", headers=headers,
                                                 json={"user": user, "item": rng.choice(items), "event": "view"})
                    if response.status_code != 201:
                        errors.append(f"POST HTTP {response.status_code}: {response.text[:120]}")
                except httpx.HTTPError as exc:
                    errors.append(f"POST {type(exc).__name__}: {exc}")
                post_latencies.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            try:
                response = await client.get(f"{web}/recommender/recommend", params={"user": user, "k": 10},
                                            headers=headers)
                body = response.json() if response.status_code == 200 else {}
                if response.status_code != 200 or len(body.get("items", [])) != 10:
                    errors.append(f"HTTP {response.status_code}: {response.text[:120]}")
                cached += bool(body.get("cached"))
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=clients + 5)) as client:
        await asyncio.gather(*(client_loop(client, random.Random(100 + n)) for n in range(clients)))
    wall = time.perf_counter() - started
    return {"clients": clients, "seconds": round(wall, 1), "recommend_ms": _percentiles(latencies),
            "errors": len(errors), "error_examples": errors[:5], "requests_per_s": round(len(latencies) / wall, 1),
            "answers_from_cache": round(cached / max(1, len(latencies)), 3),
            "interactions_posted": len(post_latencies), "post_interaction_ms": _percentiles(post_latencies)}


def web_workers_rss_mb(port: int) -> list[float]:
    """Resident memory of each uvicorn worker serving ``port`` (the children of its manager)."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "uvicorn" in " ".join(cmdline) and str(port) in cmdline:
            workers = [child for child in proc.children()  # not multiprocessing's resource tracker
                       if "resource_tracker" not in " ".join(child.cmdline())] or [proc]
            return [round(child.memory_info().rss / 2**20, 1) for child in workers]
    return []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--think", default="2,6", help="a person's pause between turns: uniform MIN,MAX seconds")
    parser.add_argument("--rec-clients", type=int, default=20)
    parser.add_argument("--rec-seconds", type=float, default=60)
    parser.add_argument("--rec-write-share", type=float, default=0.05,
                        help="share of recommend iterations that post an interaction first (drops that user's cache)")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--smoke", action="store_true", help="5 sessions x 4 turns, 3 clients x 5 s (plumbing only)")
    parser.add_argument("--only", choices=["chat", "recommend"], default=None,
                        help="run one part; the other part's last figures stay in load.json")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if options.smoke:
        options.sessions, options.turns, options.rec_clients, options.rec_seconds = 5, 4, 3, 5
    from chatbot.banking77 import load_banking77

    root = WORK / "load"
    root.mkdir(parents=True, exist_ok=True)
    # the clients stand for many people but all come from 127.0.0.1: the per-address write limit
    # (suite.client_requests_per_minute) would refuse most of their POSTs as one flooding client
    # and it measures serving: no background upgrade training beside it
    suite = start_suite(root, PORTS, options.profile, suite={"client_requests_per_minute": 1_000_000, "upgrade": False})
    logs, token = suite.logs, suite.api_token()
    try:
        texts = load_banking77()["test"].texts
        rasa, actions = PORTS.url("rasa"), PORTS.url("actions")
        think = tuple(float(x) for x in options.think.split(","))
        result: dict = {}
        if options.only != "recommend":
            result["chat"] = asyncio.run(chat(options.sessions, options.turns, texts, logs / "actions.pid", rasa,
                                              actions, think, token))
            # the same sessions as fast as the server answers: the saturation point (no target)
            result["chat_no_think_time"] = asyncio.run(chat(options.sessions, options.turns, texts, None, rasa,
                                                            actions, (0.0, 0.0), token))
            killed = result["chat"]["action_server_killed"]
            killed["restarted_by_supervisor"] = "back_at_s" in killed
        if options.only != "chat":
            result["recommend"] = _recommend_part(options, token)
    finally:
        suite.stop()
    return _report(result, options, root)


def _recommend_part(options, token: str) -> dict:
    """The recommendation clients against the suite's web workers."""
    from recommender.movielens import load_movielens100k

    movielens_items, movielens_rows = load_movielens100k()
    users = sorted({row.user for row in movielens_rows})
    rec_result = asyncio.run(recommend(options.rec_clients, options.rec_seconds, users,
                                       [item.id for item in movielens_items], PORTS.url("web"), token,
                                       options.rec_write_share))
    rec_result["web_workers_rss_mb"] = web_workers_rss_mb(PORTS.web)
    rec_result["web_workers"] = len(rec_result["web_workers_rss_mb"])
    return rec_result


def _report(result: dict, options, root: Path) -> int:
    """load.json (merged with the last run's other part when ``--only`` ran one)."""
    previous = RESULTS_FILE.is_file() and not options.smoke and json.loads(RESULTS_FILE.read_text()) or {}
    result = {**{k: previous[k] for k in ("chat", "chat_no_think_time", "recommend") if k in previous}, **result}
    chat_result, rec_result = result.get("chat", {}), result.get("recommend", {})
    result |= {"cpu_count": os.cpu_count(), "smoke": options.smoke, "profile": options.profile,
               "targets": {"errors": 0, "webhook_p95_ms_max": 250, "recommend_p95_ms_max": 150,
                           "recommend_requests_per_s_min": 150}}
    result["targets"]["met"] = bool(
        chat_result and rec_result and chat_result["errors"] == 0 and chat_result["webhook_ms"]["p95"] <= 250
        and rec_result["errors"] == 0 and rec_result["recommend_ms"]["p95"] <= 150
        and rec_result["requests_per_s"] >= 150)
    if options.smoke:
        (root / "load.json").write_text(json.dumps(result, indent=2) + "\n")
        out = root / "load.json"
    else:
        out = update_results("load", result)
    print(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
