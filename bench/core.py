"""The core benchmark: fine-tune MiniLM-L6 on BANKING77 and the PhraseBank, export int8, time it.

    python -m bench.core --threads 2 [--parts banking77,phrasebank,latency,...] [--reuse]

Writes bench/results/core.json. The published MiniLM-L6 models (parts ``banking77``,
``phrasebank``) learn from the labels. For comparison, parts ``<name>-teacher`` fine-tune an
mpnet-base teacher on the same split (packages in requirements/teachers.txt) and parts
``<name>-distilled`` train a MiniLM-L6 student on its soft targets too, under the keys
``<name>_teacher`` and ``<name>_distilled``. Training uses ``--threads`` torch threads; latency
is measured at 1 thread for one short utterance; agreement compares int8 and fp32 predictions
on the whole BANKING77 test set. ``--reuse`` keeps already trained models in bench/work/.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time

import shared  # noqa: F401  (offline, torch-only environment)
from bench.common import WORK, latency_ms, update_results
from chatbot.banking77 import load_banking77
from finsentiment.phrasebank import load_phrasebank
from finsentiment.suite import PROFILES as SENTIMENT_PROFILES
from shared.export import export_onnx
from shared.inference import Predictor
from shared.training import FineTuneArgs, finetune

logger = logging.getLogger("bench.core")

# The hyperparameters behind the published full fine-tune figures (what the intent model's "full"
# profile was before the recipes: bench.recipe compares it with them), on BANKING77 alone and
# without typo copies, so the figures stay comparable with the published ones.
BANKING77_ARGS = FineTuneArgs(epochs=10, learning_rate=1e-4, batch_size=32, warmup_ratio=0.1, max_length=64,
                              early_stopping_patience=3, spelling_correction=True)
PHRASEBANK_ARGS = SENTIMENT_PROFILES["full"]
STUDENT_ARGS = {"banking77": BANKING77_ARGS, "phrasebank": PHRASEBANK_ARGS}
DEFAULT_PARTS = ("banking77,phrasebank,latency,"
                 "banking77-teacher,banking77-distilled,phrasebank-teacher,phrasebank-distilled")
# A distilled student: the published recipe plus these (shared.training.distillation).
DISTILL = {"distill_alpha": 0.5, "distill_temperature": 2.0}
SHORT_UTTERANCE = "I still have not received my new card"
# The teachers whose soft labels the MiniLM students learn from: mpnet-base, 5x larger, trained
# on the same train/validation split as the student so the student's validation stays unseen.
TEACHER_ARGS = {
    "banking77": FineTuneArgs(base="mpnet-base", epochs=6, learning_rate=5e-5, batch_size=32,
                              warmup_ratio=0.1, max_length=64, early_stopping_patience=2),
    "phrasebank": FineTuneArgs(base="mpnet-base", epochs=5, learning_rate=3e-5, batch_size=16,
                               warmup_ratio=0.1, max_length=96, early_stopping_patience=2),
}


def _train(name: str, args: FineTuneArgs, threads: int, reuse: bool, **splits) -> dict:
    folder = WORK / name
    if not (reuse and (folder / "metrics.json").is_file()):
        args.threads = threads
        started = time.perf_counter()
        finetune(splits.pop("train"), args, folder, **splits)
        logger.info("%s trained in %.0f s", name, time.perf_counter() - started)
    metrics = json.loads((folder / "metrics.json").read_text())
    return {
        "accuracy": round(metrics["accuracy"], 4),
        "macro_f1": round(metrics["macro_f1"], 4),
        # The early-stopping criterion, and what chooses between variants: test stays unseen.
        "validation_macro_f1": round(metrics["validation"]["macro_f1"], 4),
        "ece": round(metrics["ece"], 4),
        "ece_uncalibrated": round(metrics["ece_uncalibrated"], 4),
        "n_test": metrics["n_examples"],
        "train_seconds": metrics["train_seconds"],
        "train_examples_per_s": metrics["train_examples_per_s"],
        "epochs_run": metrics.get("log_history", [{}])[-1].get("epoch"),
        "threads": metrics["threads"],
        "hyperparameters": {k: v for k, v in args.to_dict().items() if k not in ("progress", "threads")},
    }


def bench_banking77(threads: int, reuse: bool) -> dict:
    result = _train("banking77", BANKING77_ARGS, threads, reuse, **_splits("banking77"))
    update_results("core", {"banking77": result, "train_examples_per_s": result["train_examples_per_s"]})
    return result


def _splits(name: str) -> dict:
    data = load_banking77() if name == "banking77" else load_phrasebank()
    return {key: data[key] for key in ("train", "validation", "test") if key in data}


def bench_distilled(name: str, threads: int, reuse: bool) -> dict:
    """A MiniLM-L6 student of the published recipe that also learns from ``name``'s teacher."""
    teacher = WORK / f"{name}-teacher"
    if not (teacher / "metrics.json").is_file():
        raise SystemExit(f"no teacher in {teacher}: run the part '{name}-teacher' first")
    args = dataclasses.replace(STUDENT_ARGS[name], teacher=str(teacher), **DISTILL)
    result = _train(f"{name}-distilled", args, threads, reuse, **_splits(name))
    update_results("core", {f"{name}_distilled": result})
    return result


def bench_teacher(name: str, threads: int, reuse: bool) -> dict:
    """Fine-tune the mpnet-base teacher for ``name`` (bench/work/<name>-teacher)."""
    result = _train(f"{name}-teacher", TEACHER_ARGS[name], threads, reuse, **_splits(name))
    update_results("core", {f"{name}_teacher": result})
    return result


def bench_phrasebank(threads: int, reuse: bool) -> dict:
    splits = _splits("phrasebank")
    result = _train("phrasebank", PHRASEBANK_ARGS, threads, reuse, **splits)
    # The int8 export is the deployed sentiment model that bench.finsentiment measures.
    exported = export_onnx(WORK / "phrasebank", WORK / "phrasebank-int8", int8=True)
    test = splits["test"]
    predictions = Predictor(exported, "onnx", threads=threads).predict(test.texts, top_k=1)
    result["int8_accuracy"] = round(sum(p.label == t for p, t in zip(predictions, test.labels)) / len(predictions), 4)
    update_results("core", {"phrasebank": result})
    return result


def bench_latency() -> dict:
    """fp32 torch vs int8 onnxruntime at 1 thread, and their agreement on BANKING77 test."""
    model = WORK / "banking77"
    exported = export_onnx(model, WORK / "banking77-onnx", int8=True)
    torch_fp32 = Predictor(model, "torch", threads=1)
    onnx_int8 = Predictor(exported, "onnx", threads=1)
    fp32_onnx_info = json.loads((exported / "nlpsuite.json").read_text())
    section = {
        "latency_ms": {
            "torch_fp32": latency_ms(lambda: torch_fp32.predict([SHORT_UTTERANCE])),
            "onnx_int8": latency_ms(lambda: onnx_int8.predict([SHORT_UTTERANCE])),
            "threads": 1,
            "text": SHORT_UTTERANCE,
        }
    }
    test = load_banking77()["test"]
    a = torch_fp32.predict(test.texts)
    b = onnx_int8.predict(test.texts)
    agreement = sum(x.label == y.label for x, y in zip(a, b)) / len(a)
    int8_accuracy = sum(y.label == t for y, t in zip(b, test.labels)) / len(b)
    section["int8_agreement"] = round(agreement, 4)
    section["int8_accuracy_banking77"] = round(int8_accuracy, 4)
    sizes = {p.name: round(p.stat().st_size / 1e6, 1) for p in exported.glob("*.onnx")}
    section["onnx_sizes_mb"] = sizes
    section["onnx_served_file"] = fp32_onnx_info["onnx_file"]
    update_results("core", section)
    return section


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training")
    parser.add_argument("--parts", default=DEFAULT_PARTS)
    parser.add_argument("--reuse", action="store_true", help="keep models already trained in bench/work/")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parts = options.parts.split(",")
    for part in parts:
        started = time.perf_counter()
        if part == "banking77":
            result = bench_banking77(options.threads, options.reuse)
        elif part == "phrasebank":
            result = bench_phrasebank(options.threads, options.reuse)
        elif part.endswith("-distilled") and part.removesuffix("-distilled") in STUDENT_ARGS:
            result = bench_distilled(part.removesuffix("-distilled"), options.threads, options.reuse)
        elif part.endswith("-teacher") and part.removesuffix("-teacher") in TEACHER_ARGS:
            result = bench_teacher(part.removesuffix("-teacher"), options.threads, options.reuse)
        elif part == "latency":
            result = bench_latency()
        else:
            parser.error(f"unknown part '{part}'")
        logger.info("%s done in %.0f s: %s", part, time.perf_counter() - started,
                    {k: v for k, v in result.items() if k != "hyperparameters"})


if __name__ == "__main__":
    main()
