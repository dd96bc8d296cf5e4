"""A first `nlpsuite run` from nothing, timed until every product answers, then the live upgrade.

    python -m bench.upgrade [--profile quick] [--swap-clients 20] [--skip-upgrade]

Starts `nlpsuite run` in bench/work/upgrade (a fresh var folder and a fresh feature-graph cache,
as on a new clone after `make setup`; its own ports) and measures, into bench/results/recipe.json:

- ``make_run``: seconds from the command to the first answer of every product (a reply on Rasa's
  REST webhook, a recommendation, the dashboard); the served intent model's BANKING77 test
  accuracy (its int8 graph through the core's Predictor, the 77 banking intents of its 88
  labels; an own-intent answer counts as a miss); then the minutes until the background upgrade
  has switched it and the accuracy of the version it switched to.
- ``swap``: chat clients back to back on the webhook while the intent model's pointer is switched
  to the other version and back: failed requests, p95 latency before and during a swap (the
  3 s after each switch), the slowest request.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import shutil
import time

import httpx
import numpy as np

from bench.common import RESULTS, WORK, update_results
from bench.suite import Ports, start_suite
from chatbot.senders import issue, request_sender, sender_key

logger = logging.getLogger("bench.upgrade")
PORTS = Ports(web=8102, outbox=8027, rasa=5007, actions=5057)
SWAP_WINDOW_S = 3.0


def banking77_accuracy(model_root) -> float:
    """The served version's accuracy on BANKING77's test split (int8 graph, 2 threads)."""
    from chatbot.banking77 import load_banking77
    from shared.inference import Predictor

    test = load_banking77()["test"]
    predictions = Predictor(model_root, "onnx", threads=2).predict(test.texts, top_k=1)
    return round(float(np.mean([p.label == y for p, y in zip(predictions, test.labels)])), 4)


def _answers(token: str) -> dict[str, bool]:
    """Whether each product answers now."""
    checks = {}
    try:
        reply = httpx.post(f"{PORTS.url('rasa')}/webhooks/rest/webhook", timeout=10,
                           json={"sender": request_sender(PORTS.url("rasa"), token), "message": "my card has not arrived"})
        checks["chat"] = reply.status_code == 200 and bool(reply.json())
    except (httpx.HTTPError, ValueError):
        checks["chat"] = False
    for name, path in (("recommend", "/recommender/recommend?user=1&k=5"), ("dashboard", "/finsentiment/")):
        try:
            response = httpx.get(f"{PORTS.url('web')}{path}", timeout=10, headers={"Authorization": f"Bearer {token}"})
            checks[name] = response.status_code == 200
        except httpx.HTTPError:
            checks[name] = False
    return checks


def wait_for_answers(suite, started: float, timeout_s: float) -> dict:
    """Seconds from the start until each product first answered."""
    first: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(first) < 3:
        if suite.proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the suite did not answer; see {suite.root / 'suite.log'}")
        token = ""
        try:
            token = suite.api_token()
        except Exception:  # noqa: BLE001 (not made yet)
            pass
        if token:
            for name, ok in _answers(token).items():
                if ok and name not in first:
                    first[name] = round(time.perf_counter() - started, 1)
                    logger.info("%s answers after %.0f s", name, first[name])
        time.sleep(2)
    return first


def wait_for_upgrade(var, names, started: float, timeout_s: float) -> dict:
    """Minutes from ``started`` until each classifier's upgrade ended, and how."""
    from shared.app.upgrade import read_status

    ended: dict[str, dict] = {}
    deadline = time.monotonic() + timeout_s
    while len(ended) < len(names) and time.monotonic() < deadline:
        for name in names:
            status = read_status(var / "models" / name)
            if name not in ended and status.get("state") in ("serving", "kept", "failed"):
                ended[name] = {"state": status["state"], "recipe": status.get("recipe"),
                               "minutes": round((time.perf_counter() - started) / 60, 1)}
                logger.info("upgrade of %s: %s", name, ended[name])
        time.sleep(10)
    return ended


async def swap_load(clients: int, seconds: float, switch_at: list[float], switch, texts: list[str], token: str,
                    think: tuple[float, float] = (0.2, 0.6)) -> dict:
    """``clients`` chat clients for ``seconds``, each a new conversation per message (the REST
    channel's per-sender limit is not what is measured) after a pause of ``think`` seconds;
    ``switch()`` runs at each of ``switch_at`` (seconds from the start)."""
    samples, failures = [], []
    started, key = time.perf_counter(), sender_key(token)  # sender ids signed as the REST channel issues them

    async def client_loop(client, rng):
        while time.perf_counter() - started < seconds:
            await asyncio.sleep(rng.uniform(*think))
            t0 = time.perf_counter()
            try:
                reply = await client.post(f"{PORTS.url('rasa')}/webhooks/rest/webhook",
                                          json={"sender": issue(key, "swap"), "message": rng.choice(texts)})
                if reply.status_code != 200 or not reply.json():
                    failures.append(f"HTTP {reply.status_code}")
            except httpx.HTTPError as exc:
                failures.append(type(exc).__name__)
            samples.append((t0 - started, (time.perf_counter() - t0) * 1000))

    async def switcher():
        for at in switch_at:
            await asyncio.sleep(max(0.0, at - (time.perf_counter() - started)))
            await asyncio.to_thread(switch)

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=clients + 5)) as client:
        await asyncio.gather(switcher(), *(client_loop(client, random.Random(n)) for n in range(clients)))
    during = [ms for t, ms in samples if any(at <= t < at + SWAP_WINDOW_S for at in switch_at)]
    before = [ms for t, ms in samples if t < switch_at[0]]
    return {"clients": clients, "think_s": list(think), "seconds": seconds, "requests": len(samples),
            "requests_per_s": round(len(samples) / seconds, 1), "failed": len(failures),
            "failure_examples": failures[:5], "swaps": len(switch_at),
            "p95_ms_before": round(float(np.percentile(before, 95)), 1),
            "p95_ms_during": round(float(np.percentile(during, 95)), 1),
            "max_ms_during": round(float(max(during)), 1), "over_1s_during": sum(ms > 1000 for ms in during),
            "window_s": SWAP_WINDOW_S}


def measure_swap(var, clients: int, token: str) -> dict:
    """Switch the intent model's pointer to the other version and back, under chat load."""
    from chatbot.banking77 import load_banking77
    from shared.model_versions import ModelVersions

    versions = ModelVersions(var / "models" / "intents")
    serving, other = versions.current().id, next(v.id for v in versions.all() if v.id != versions.current().id)
    order = iter([other, serving])
    return asyncio.run(swap_load(clients, 40.0, [10.0, 25.0], lambda: versions.switch(next(order)),
                                 load_banking77()["test"].texts, token))


def swap_only(profile: str, clients: int) -> int:
    """The swap part alone, on the suite an earlier full run left in bench/work/upgrade."""
    suite = start_suite(WORK / "upgrade", PORTS, profile, models={})
    try:
        time.sleep(20)  # the upgrade job finds its versions trained and ends; let it
        swap = measure_swap(suite.var, clients, suite.api_token())
        update_results("recipe", {"swap": swap})
    finally:
        suite.stop()
    print(json.dumps(swap, indent=1))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--swap-clients", type=int, default=8)
    parser.add_argument("--swap-only", action="store_true", help="only the swap, on the suite of an earlier run")
    parser.add_argument("--upgrade-timeout-min", type=float, default=90)
    parser.add_argument("--first-only", action="store_true",
                        help="measure the first answers only; keep the upgrade's figures of an earlier run")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if options.swap_only:
        return swap_only(options.profile, options.swap_clients)
    root = WORK / "upgrade"
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    suite = start_suite(root, PORTS, options.profile, models={}, wait=False,
                        env={"NLPSUITE_CACHE": str(root / "cache")})
    try:
        first = wait_for_answers(suite, started, timeout_s=1800)
        var = suite.var
        make_run = {"seconds_to_first_answer": max(first.values()), "first_answer_s": first,
                    "served_accuracy_first": banking77_accuracy(var / "models" / "intents"),
                    "served_recipe_first": _recipe(var), "cores": _cores(), "profile": options.profile}
        if options.first_only:
            kept = json.loads((RESULTS / "recipe.json").read_text()).get("make_run", {})
            update_results("recipe", {"make_run": kept | make_run})
            print(json.dumps(make_run, indent=1))
            return 0
        update_results("recipe", {"make_run": make_run})
        upgrade = wait_for_upgrade(var, ["intents", "phrasebank"], started, options.upgrade_timeout_min * 60)
        from shared.app.upgrade import read_status

        training = read_status(var / "models" / "intents").get("minutes")
        make_run |= {"upgrade": upgrade, "minutes_to_upgrade": upgrade.get("intents", {}).get("minutes"),
                     "minutes_to_upgrade_note": "from the `nlpsuite run` command to the intent model's switch; "
                                                "upgrade_training_minutes: the upgrade job alone",
                     "upgrade_training_minutes": training,
                     "served_accuracy_after_upgrade": banking77_accuracy(var / "models" / "intents"),
                     "served_recipe_after_upgrade": _recipe(var), "upgrade_threads": 1}
        update_results("recipe", {"make_run": make_run})
        swap = measure_swap(var, options.swap_clients, suite.api_token())
        update_results("recipe", {"swap": swap})
    finally:
        suite.stop()
    print(json.dumps({"make_run": make_run, "swap": swap}, indent=1))
    return 0


def _recipe(var) -> str:
    from shared.model_versions import ModelVersions

    return ModelVersions(var / "models" / "intents").current().info.recipe


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
