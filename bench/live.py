"""The bot declining what it does not know, and learning a new intent while it runs.

    python -m bench.live [--threads 2] [--parts methods,abstention,teach]

- ``methods``: ways to decline unknown requests side by side, on the frozen int8 MiniLM features
  the probe serves: a confidence threshold alone, the energy score, the Mahalanobis distance to
  the class means, the cosine distance to the nearest training examples (each without any
  unknown request in training, its threshold tuned on the tune halves and validation), and the
  decline intents trained on the tune halves (what the bot does).
- ``abstention``: the models `make run` serves (``probe`` first, ``full``: the LP-FT version that
  replaces it, ``served``: the one with the better validation score, which serves after the
  upgrade) inside a real `rasa run`, asked through /model/parse: BANKING77 test accuracy (a
  fallback, a decline or another intent is a miss), and the share of the test halves of the
  composed unknown requests (data/chatbot/unknown_requests.csv) that the bot declines. A
  message that falls back counts as declined only when the FAQ search would not answer it
  either (the fallback action's own search, same threshold).
- ``teach_methods``: the five new intents taught to the served model two ways, judged on its own
  features: the nearest-example vote the bot uses (``shared.teaching``) and a refit of the whole
  head (the device's anchored L-BFGS): how many of the 15 probes each gets right, and BANKING77
  accuracy and unknown-request recall afterwards.
- ``teach``: five new intents (data/chatbot/new_intents.yml) taught one after another with
  `nlpsuite chatbot teach` to the running bot; the seconds from the command to the first
  correct answer over the REST webhook to a phrasing not among the examples; BANKING77 accuracy
  through the bot before and after, and the unknown requests declined after (``after``); then
  three conversations as a customer has them (``transcripts``).

Threads: ``--threads`` for onnxruntime in Rasa and for training; all in live.json.
Writes bench/results/live.json.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import yaml

import shared  # noqa: F401
from bench.common import ROOT, WORK, machine, update_results

logger = logging.getLogger("bench.live")
HERE = WORK / "live"
DECLINES = {"out_of_scope", "unsupported_banking"}
NEW_INTENTS = ROOT / "data" / "chatbot" / "new_intents.yml"


def trained_models(threads: int) -> dict:
    """The probe and the LP-FT (quick profile) intent versions, trained here unless already there."""
    from chatbot.intents import INTENT_CLASSIFIER
    from shared.app.quickstart import train_version
    from shared.model_versions import ModelVersions

    versions = ModelVersions(HERE / "models" / "intents")
    probe = train_version(INTENT_CLASSIFIER, INTENT_CLASSIFIER.first, versions, threads, note="first")
    full = train_version(INTENT_CLASSIFIER, INTENT_CLASSIFIER.profiles["quick"], versions, threads, note="quick profile")
    served = full if full.info.score > probe.info.score else probe
    return {"probe": probe, "full": full, "served": served}


def test_sets() -> dict:
    from chatbot.banking77 import load_banking77
    from chatbot.intents import unknown_requests

    banking = load_banking77()["test"]
    unknown = unknown_requests("test")
    return {"banking77": (banking.texts, banking.labels),
            "banking_unknown": [t for t, k in zip(unknown.texts, unknown.labels) if k == "banking_unknown"],
            "out_of_domain": [t for t, k in zip(unknown.texts, unknown.labels) if k == "out_of_domain"]}


def final_intents(url: str, texts: list[str], faq) -> list[str]:
    """What the bot does with each text: its intent, or ``faq_answer`` for a fallback the FAQ search answers."""
    client = httpx.Client(timeout=60)
    out = []
    for text in texts:
        intent = ((client.post(f"{url}/model/parse", json={"text": text}).json().get("intent")) or {}).get("name")
        if intent == "nlu_fallback" and faq[0].best(text, faq[1]) is not None:
            intent = "faq_answer"
        out.append(intent)
    return out


def abstention_of(url: str, sets: dict, faq) -> dict:
    texts, gold = sets["banking77"]
    predicted = final_intents(url, texts, faq)

    def declined(kind):
        found = final_intents(url, sets[kind], faq)
        return round(float(np.mean([i in DECLINES or i == "nlu_fallback" for i in found])), 4)

    return {"in_scope_accuracy": round(float(np.mean([p == g for p, g in zip(predicted, gold)])), 4),
            "in_scope_fallbacks": round(float(np.mean([p == "nlu_fallback" for p in predicted])), 4),
            "in_scope_declined": round(float(np.mean([p in DECLINES for p in predicted])), 4),
            "in_domain_unknown_recall": declined("banking_unknown"),
            "out_of_domain_recall": declined("out_of_domain"),
            "n": {k: len(v[0]) if k == "banking77" else len(v) for k, v in sets.items()}}


def wait_until_served(url: str, folder: Path, timeout_s: float = 120) -> None:
    """Until Rasa's parse agrees with ``folder``'s own prediction (the live swap has landed)."""
    from shared.inference import Predictor

    probe = "my card still has not arrived after two weeks"
    expected = Predictor(folder, "onnx", threads=1).predict([probe], top_k=1)[0]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ranking = httpx.post(f"{url}/model/parse", json={"text": probe}, timeout=30).json().get("intent_ranking") or []
        top = next((r for r in ranking if r["name"] != "nlu_fallback"), None)
        if top and abs(top["confidence"] - expected.confidence) < 1e-4:
            return
        time.sleep(0.5)
    raise RuntimeError(f"Rasa did not swap in {folder} within {timeout_s} s")


def config_for(root: Path, versions: Path, threads: int) -> Path:
    config = root / "nlpsuite.yml"
    config.write_text(yaml.safe_dump({"chatbot": {
        "project_dir": str(root / "project"), "models_dir": str(root / "rasa_models"),
        "bank_db": f"sqlite:///{root / 'bank.db'}", "tracker_store": f"sqlite:///{root / 'tracker.db'}",
        "faq_index": str(root / "faq_index"), "faq": str(ROOT / "data" / "chatbot" / "faq.csv"),
        "outbox_dir": str(root / "outbox"), "taught_store": str(root / "taught.json"),
        "classifier": {"model": str(versions), "threads": threads}}}))
    return config


@contextlib.contextmanager
def running_bot(root: Path, config: Path):
    """The generated project around the versions folder, `rasa train`ed, served with its actions."""
    from chatbot import server
    from chatbot.bank import Bank, seed_demo
    from chatbot.faq import FaqIndex, load_faq
    from chatbot.project import build_project, write_endpoints
    from chatbot.settings import load_settings
    from shared.app.supervisor import Supervisor
    from shared.embeddings import Embedder

    settings = load_settings(config)
    build_project(settings.project_dir, settings, data_dir=ROOT / "data" / "banking77")
    seed_demo(Bank(settings.bank_db))
    embedder = Embedder(settings.embedder)
    faq = FaqIndex.build(load_faq(settings.faq), embedder)
    faq.save(settings.faq_index)
    env = server.rasa_env({"NLPSUITE_CONFIG": str(config)}, cache_dir=root / "rasa_cache")
    started = time.perf_counter()
    model = server.train(settings.project_dir, settings.models_dir, name="live", env=env, log=root / "train.log")
    logger.info("rasa train in %.0f s", time.perf_counter() - started)
    action_port, rasa_port = server.free_port(), server.free_port()
    write_endpoints(settings.project_dir, settings, action_port=action_port)
    supervisor = Supervisor(root, env, max_restarts=0)
    try:
        supervisor.start([server.actions_service(port=action_port, env=env),
                          server.rasa_service(settings.project_dir, model, port=rasa_port, env=env)])
        yield f"http://127.0.0.1:{rasa_port}", (faq, settings.retrieval_threshold)
    finally:
        supervisor.stop()


def first_answer_seconds(url: str, probes: list[str], answer: str, started: float, timeout_s: float = 180) -> float:
    """Seconds from ``started`` until the bot answers one of ``probes`` with ``answer``."""
    client = httpx.Client(timeout=60)
    deadline = time.monotonic() + timeout_s
    i = 0
    while time.monotonic() < deadline:
        reply = client.post(f"{url}/webhooks/rest/webhook",
                            json={"sender": f"bench-teach-{i}", "message": probes[i % len(probes)]}).json()
        if any(r.get("text") == answer for r in reply):
            return round(time.perf_counter() - started, 1)
        i += 1
        time.sleep(0.25)
    return float("inf")


def teach_all(url: str, root: Path, config: Path, threads: int) -> list[dict]:
    intents = yaml.safe_load(NEW_INTENTS.read_text(encoding="utf-8"))["intents"]
    results = []
    for name, item in intents.items():
        examples = root / f"{name}.txt"
        examples.write_text("\n".join(item["examples"]) + "\n", encoding="utf-8")
        started = time.perf_counter()
        command = [sys.executable, "-m", "shared.app.cli", "chatbot", "--config", str(config), "teach", "--intent",
                   name, "--examples", str(examples), "--answer", item["answer"], "--threads", str(threads)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"teach {name} failed: {done.stderr[-2000:]}")
        command_seconds = round(time.perf_counter() - started, 1)
        seconds = first_answer_seconds(url, item["probes"], item["answer"], started)
        results.append({"intent": name, "seconds": seconds, "command_seconds": command_seconds,
                        "report": json.loads(done.stdout.strip().splitlines()[-1])})
        logger.info("taught %s: answered after %.1f s (the command took %.1f s)", name, seconds, command_seconds)
    return results


CONVERSATIONS = [
    ["what's my balance?", "yes please"],
    ["can you recommend a good pizza place nearby?", "no thanks"],
    ["do you do gift cards?", "I want to freeze my card", "what do I get if a friend signs up with my code",
     "it's C1003"],
]


def transcripts(url: str) -> list[list[dict]]:
    """Conversations over the REST webhook, as a customer has them (after the teach part)."""
    out = []
    for number, messages in enumerate(CONVERSATIONS):
        turns = []
        for message in messages:
            reply = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": f"bench-transcript-{number}",
                                                                      "message": message}, timeout=60).json()
            turns.append({"user": message, "bot": [r.get("text") for r in reply if r.get("text")],
                          "buttons": [b["title"] for r in reply for b in r.get("buttons", [])]})
        out.append(turns)
    return out


def run_bot_parts(models: dict, parts: tuple, threads: int) -> dict:
    """``abstention`` for each model, then ``teach`` on the served one, in one running bot."""
    from shared.model_versions import ModelVersions
    from shared.teaching import link_or_copy

    root = HERE / "bot"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    versions_root = root / "intents"
    shutil.copytree(HERE / "models" / "intents", versions_root, copy_function=link_or_copy)  # teach adds versions here
    versions = ModelVersions(versions_root)
    versions.switch(models["served"].id)
    config = config_for(root, versions_root, threads)
    sets, out = test_sets(), {}
    with running_bot(root, config) as (url, faq):
        if "abstention" in parts:
            out["abstention"] = {}
            for name in ("probe", "full", "served"):
                versions.switch(models[name].id)
                wait_until_served(url, versions.current().folder)
                out["abstention"][name] = {"version": models[name].id, "recipe": models[name].info.recipe,
                                           **abstention_of(url, sets, faq)}
                logger.info("%s: %s", name, out["abstention"][name])
        if "teach" in parts:
            versions.switch(models["served"].id)
            wait_until_served(url, versions.current().folder)
            texts, gold = sets["banking77"]
            before = abstention_of(url, {**sets, "banking_unknown": [], "out_of_domain": []}, faq)["in_scope_accuracy"]
            taught = teach_all(url, root, config, threads)
            wait_until_served(url, versions.current().folder)
            after = abstention_of(url, sets, faq)
            out["teach"] = {"seconds": {t["intent"]: t["seconds"] for t in taught}, "details": taught,
                            "old_accuracy_before": before, "old_accuracy_after": after["in_scope_accuracy"],
                            "after": {k: after[k] for k in ("in_domain_unknown_recall", "out_of_domain_recall")},
                            "base_version": models["served"].id, "target_seconds": 60}
            out["transcripts"] = transcripts(url)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parts", default="methods,teach_methods,abstention,teach")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parts = tuple(p.strip() for p in options.parts.split(",") if p.strip())
    results = {"machine": machine(), "threads": options.threads}
    if "methods" in parts:
        from bench.live_methods import side_by_side

        results["methods"] = side_by_side(options.threads)
    if {"abstention", "teach", "teach_methods"} & set(parts):
        models = trained_models(options.threads)
    if "teach_methods" in parts:
        from bench.live_methods import teach_side_by_side

        results["teach_methods"] = teach_side_by_side(models["served"], options.threads)
    if {"abstention", "teach"} & set(parts):
        results.update(run_bot_parts(models, parts, options.threads))
    path = update_results("live", results)
    print(json.dumps(results, indent=2, default=str)[:4000])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
