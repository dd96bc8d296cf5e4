"""The chatbot benchmark: our pipeline (fine-tuned MiniLM served from int8 ONNX inside Rasa)
against Rasa's own default DIET pipeline, same NLU data, same machine, one run.

    python -m bench.chatbot [--threads 1] [--smoke]

Both models are trained with `rasa train` on the BANKING77 training split and served by a
real `rasa run --enable-api`; intent accuracy and macro-F1 are measured through HTTP
/model/parse on the BANKING77 test split, and so are parse latencies (p50/p95, one request
at a time). For ours the REST webhook round trip (NLU + rules + action server) is timed too.
Both are also scored on the same test texts with one seeded typo per message (``typos``: the
target is at most 3 points below clean accuracy).
Ours reuses the fine-tuned core model bench/work/banking77 (from `make bench-core`) through
the component's `model` option when it exists, else the component fine-tunes MiniLM itself.
Threads: ``--threads`` for onnxruntime and TensorFlow/torch in the servers (the latency
figures), ``--train-threads`` (default: the same) for `rasa train`; both go into the JSON.
``--smoke``: 5 intents x 20 examples, 4 epochs, a 40-text test sample: checks the plumbing in
a couple of minutes; its figures mean nothing. Writes bench/results/chatbot.json.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import random
import time
import uuid
from pathlib import Path

import httpx
import yaml

import shared  # noqa: F401
from bench.common import WORK, latency_ms, update_results
from chatbot import server
from chatbot.banking77 import load_banking77
from chatbot.project import build_project, write_endpoints
from chatbot.settings import ChatbotSettings, ClassifierSettings
from shared.app.supervisor import Supervisor

logger = logging.getLogger("bench.chatbot")
SMOKE_INTENTS = ["card_arrival", "exchange_rate", "top_up_limits", "change_pin", "atm_support"]
SMOKE_PER_INTENT, SMOKE_EPOCHS = 20, 4  # enough for the smoke to rank intents at all (8 x 1 epoch gave 0.0)

# Rasa 3.6's default pipeline (what `rasa init` writes, minus the ResponseSelector: this
# bot has no retrieval intents), with Rasa's default 100 DIET epochs.
DIET_PIPELINE = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
    {"name": "EntitySynonymMapper"},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]


def _scores(gold: list[str], predicted: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": round(float(accuracy_score(gold, predicted)), 4),
            "macro_f1": round(float(f1_score(gold, predicted, average="macro", zero_division=0)), 4),
            "n_test": len(gold)}


def _top_intent(parsed: dict) -> str:
    ranking = [r for r in parsed.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
    return ranking[0]["name"] if ranking else (parsed.get("intent") or {}).get("name") or ""


TYPO_SEED = 7
TYPO_NOISE = f"one seeded typo per message (swap, drop, double or neighbouring key; seed {TYPO_SEED})"


def _typo_texts(texts: list[str]) -> list[str]:
    from shared.data import with_typos

    rng = random.Random(TYPO_SEED)
    return [with_typos(t, rng, rate=0.0) for t in texts]  # rate 0: exactly one misspelt word


def _evaluate(url: str, texts: list[str], gold: list[str], latency_runs: int) -> dict:
    client = httpx.Client(timeout=60)

    def predict(batch: list[str]) -> list[str]:
        return [_top_intent(client.post(f"{url}/model/parse", json={"text": t}).json()) for t in batch]

    clean = _scores(gold, predict(texts))
    typos = _scores(gold, predict(_typo_texts(texts)))
    typos.update(noise=TYPO_NOISE, points_below_clean=round(100 * (clean["accuracy"] - typos["accuracy"]), 2))
    cycle = itertools.cycle(texts)
    parse = latency_ms(lambda: client.post(f"{url}/model/parse", json={"text": next(cycle)}),
                       warmup=10, runs=latency_runs)
    return {**clean, "typos": typos, "parse_ms": parse}


def _train(project: Path, name: str, env: dict, args: list[str] | None = None) -> tuple[Path, float]:
    started = time.perf_counter()
    model = server.train(project, project / "models", name=name, env=env, log=project / f"train_{name}.log")
    return model, round(time.perf_counter() - started, 1)


def _run_ours(project, settings, classifier, env, root, texts, gold, runs) -> dict:
    """Train (or reuse) our pipeline, serve it with the action server, time parse and webhook."""
    ours_model, ours_seconds = _train(project, "ours", env)
    action_port, rasa_port = server.free_port(), server.free_port()
    write_endpoints(project, settings, action_port=action_port)
    rasa = server.rasa_service(project, ours_model, port=rasa_port, env=env, name="rasa_ours")
    supervisor = Supervisor(root, env, max_restarts=0)
    try:
        supervisor.start([server.actions_service(port=action_port, env=env), rasa])
        url = server.url(rasa)
        ours = _evaluate(url, texts, gold, runs)
        client, cycle = httpx.Client(timeout=60), itertools.cycle(texts)
        webhook = lambda: client.post(f"{url}/webhooks/rest/webhook",  # noqa: E731
                                      json={"sender": f"bench-{uuid.uuid4().hex[:8]}", "message": next(cycle)})
        ours["webhook_ms"] = latency_ms(webhook, warmup=10, runs=runs)
    finally:
        supervisor.stop()
    ours.update(train_seconds=ours_seconds, reused_finetuned_model=bool(classifier.model),
                model=_describe(classifier.model),
                pipeline="CoreIntentClassifier (MiniLM-L6, onnx int8) + CalibratedFallbackClassifier")
    return ours


def _describe(model: str | None) -> dict | None:
    """Which fine-tuned folder the pipeline served, and how it was trained."""
    if not model:
        return None
    from shared.model_dir import ModelInfo

    info = ModelInfo.load(model)
    hp = info.hyperparameters
    return {"folder": str(Path(model).relative_to(Path.cwd()) if Path(model).is_relative_to(Path.cwd()) else model),
            "labels": len(info.labels), "base": info.base_model, "spelling_correction": bool(info.spelling_file),
            **{k: hp.get(k) for k in ("epochs", "typo_augmentation", "teacher")}}


def _previous_results() -> dict:
    path = Path(__file__).parent / "results" / "chatbot.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _thread_env(threads: int) -> dict:
    return {"OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1"}


def run(threads: int, smoke: bool, parts: tuple[str, ...] = ("ours", "diet"), train_threads: int | None = None,
        model: Path | None = None) -> dict:
    train_threads = train_threads or threads
    root = WORK / ("chatbot_smoke" if smoke else "chatbot")
    root.mkdir(parents=True, exist_ok=True)
    reuse = WORK / "banking77"
    classifier = ClassifierSettings(threads=threads, epochs=SMOKE_EPOCHS if smoke else 10, max_length=64)
    if model is not None:  # a folder fine-tuned elsewhere (e.g. make run's var/models/intents-quick-int8)
        classifier.model = str(model.resolve())
    elif not smoke and (reuse / "nlpsuite.json").is_file():
        classifier.model = str(reuse)
    settings = ChatbotSettings(project_dir=str(root / "project"), bank_db=f"sqlite:///{root / 'bank.db'}",
                               tracker_store=f"sqlite:///{root / 'tracker.db'}", faq_index=str(root / "faq_index"),
                               classifier=classifier)
    intents = SMOKE_INTENTS if smoke else None
    project = build_project(settings.project_dir, settings, per_intent=SMOKE_PER_INTENT if smoke else None, intents=intents).project_dir
    test = load_banking77()["test"]
    pairs = [(t, y) for t, y in zip(test.texts, test.labels) if intents is None or y in intents]
    if smoke:
        pairs = pairs[:40]
    texts, gold = [t for t, _ in pairs], [y for _, y in pairs]
    env = server.rasa_env(_thread_env(threads), cache_dir=root / "rasa_cache")
    (root / "nlpsuite.yml").write_text(yaml.safe_dump({"chatbot": json.loads(settings.json())}))
    env["NLPSUITE_CONFIG"] = str(root / "nlpsuite.yml")
    runs = 30 if smoke else 300
    results = {"threads": threads, "train_threads": train_threads, "smoke": smoke}

    # A folder given with --model (the one `make run` serves, say) is reported on its own, beside
    # the benchmark's own pipeline: its labels and training differ from what DIET is compared with.
    key = "make_run_model" if model is not None else "ours"
    if "ours" in parts:
        results[key] = _run_ours(project, settings, classifier, env, root, texts, gold, runs)
        if not smoke:  # saved at once: the DIET half can take hours on 2 cores
            update_results("chatbot", {key: {**results[key], "threads": threads}})
    if model is not None:  # no DIET comparison for a folder trained elsewhere
        return results
    if "diet" not in parts:
        return results
    ours = results.get("ours") or (_previous_results().get("ours") if not smoke else None)

    # Rasa's default DIET pipeline on the same NLU data
    diet_config = project / "config_diet.yml"
    pipeline = json.loads(json.dumps(DIET_PIPELINE))
    if smoke:
        pipeline[5]["epochs"] = 5
    diet_config.write_text(yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": pipeline,
                                           "policies": []}))
    started = time.perf_counter()
    log = open(root / "train_diet.log", "w")
    import subprocess

    done = subprocess.run(server.rasa_command("train", "nlu", "--config", str(diet_config), "--nlu", "data/nlu.yml",
                                              "--out", str(project / "models"), "--fixed-model-name", "diet"),
                          cwd=project, env={**env, **_thread_env(train_threads)}, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    if done.returncode != 0:
        raise RuntimeError(f"DIET training failed; see {root / 'train_diet.log'}")
    diet_seconds = round(time.perf_counter() - started, 1)
    rasa = server.rasa_service(project, project / "models" / "diet.tar.gz", port=server.free_port(), env=env,
                               name="rasa_diet")
    supervisor = Supervisor(root, env, max_restarts=0)
    try:
        supervisor.start([rasa])
        diet = _evaluate(server.url(rasa), texts, gold, runs)
    finally:
        supervisor.stop()
    diet.update(train_seconds=diet_seconds, train_threads=train_threads, pipeline="Rasa 3.6 default: CountVectors + DIETClassifier (100 epochs)")
    results["diet"] = diet
    if ours:
        results["accuracy_gain_points"] = round(100 * (ours["accuracy"] - diet["accuracy"]), 2)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-threads", type=int, default=None, help="threads for rasa train (default: --threads)")
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the plumbing (figures meaningless)")
    parser.add_argument("--parts", default="ours,diet", help="which pipelines to run (results merge into the JSON)")
    parser.add_argument("--model", type=Path, default=None,
                        help="serve this fine-tuned intent folder in our pipeline (default: bench-core's "
                             "bench/work/banking77 when present, else rasa train fine-tunes)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    results = run(options.threads, options.smoke, tuple(options.parts.split(",")), options.train_threads,
                  options.model)
    if options.smoke:
        out = WORK / "chatbot_smoke" / "chatbot.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
    else:
        out = update_results("chatbot", results)
    print(json.dumps({k: results[k] for k in ("ours", "make_run_model", "diet") if k in results}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
