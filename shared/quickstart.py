"""``nlpsuite run``: the suite's main job on embedded defaults.

Today it prepares the two classifiers the products serve: the BANKING77 intent model (the
chatbot) and the PhraseBank sentiment model (the news monitor). Each is fine-tuned from
MiniLM-L6 once, exported to int8 ONNX, cached under ``var/models/`` and reused by later runs;
then a few demo texts are classified. The ``quick`` profile fits a 2-core laptop in about a
quarter of an hour; ``full`` uses the benchmark hyperparameters behind docs/benchmarks.md.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from shared.training.args import FineTuneArgs

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]

PROFILES: dict[str, dict[str, FineTuneArgs]] = {
    "quick": {
        "banking77": FineTuneArgs(epochs=2, learning_rate=1e-4, batch_size=32, max_length=48,
                                  early_stopping_patience=1),
        "phrasebank": FineTuneArgs(epochs=2, learning_rate=6e-5, batch_size=16, max_length=80,
                                   early_stopping_patience=1),
    },
    "full": {
        "banking77": FineTuneArgs(epochs=10, learning_rate=1e-4, batch_size=32, warmup_ratio=0.1,
                                  max_length=64, early_stopping_patience=3),
        "phrasebank": FineTuneArgs(epochs=8, learning_rate=5e-5, batch_size=16, warmup_ratio=0.1,
                                   max_length=96, early_stopping_patience=3),
    },
}
# Measured on 2 cores (docs/benchmarks.md); printed so that nobody wonders whether it hangs.
EXPECTED_MINUTES = {"quick": {"banking77": 6, "phrasebank": 4}, "full": {"banking77": 25, "phrasebank": 15}}
DEMO_TEXTS = {
    "banking77": ["I still have not received my new card", "How do I top up with Apple Pay?"],
    "phrasebank": ["Operating profit rose 25% to EUR 3.2 million.",
                   "The company warned that sales will fall sharply next year."],
}


def _splits(name: str) -> dict:
    from shared.data import load_banking77, load_phrasebank

    if name == "banking77":
        data = load_banking77()
        return {"train": data["train"], "test": data["test"]}
    return load_phrasebank()


def prepare_model(name: str, profile: str, var_dir: Path, threads: int | None) -> Path:
    """Fine-tune and export ``name`` unless ``var/models/<name>-<profile>-int8`` exists."""
    from shared.export import export_onnx
    from shared.training import finetune

    trained = var_dir / "models" / f"{name}-{profile}"
    exported = var_dir / "models" / f"{name}-{profile}-int8"
    if (exported / "nlpsuite.json").is_file():
        logger.info("%s: using cached %s", name, exported)
        return exported
    if not (trained / "nlpsuite.json").is_file():
        args = PROFILES[profile][name]
        args.threads = threads
        logger.info("%s: fine-tuning MiniLM-L6 (%s profile, about %d min on 2 cores)",
                    name, profile, EXPECTED_MINUTES[profile][name])
        splits = _splits(name)
        finetune(splits.pop("train"), args, trained, **splits)
    export_onnx(trained, exported, int8=True)
    return exported


def cmd_run(options) -> int:
    from shared.inference import Predictor

    var_dir = Path(options.var).resolve()
    started = time.perf_counter()
    for name in ("banking77", "phrasebank"):
        folder = prepare_model(name, options.profile, var_dir, options.threads)
        metrics = json.loads((folder / "metrics.json").read_text())
        print(f"\n{name}: {folder}\n  test accuracy {metrics['accuracy']:.4f}, macro-F1 "
              f"{metrics['macro_f1']:.4f}, ECE {metrics['ece']:.4f}")
        predictor = Predictor(folder, "onnx", threads=1)
        for text, prediction in zip(DEMO_TEXTS[name], predictor.predict(DEMO_TEXTS[name], top_k=1)):
            print(f"  {text!r} -> {prediction.label} ({prediction.confidence:.2f})")
    print(f"\nready in {time.perf_counter() - started:.0f} s; models under {var_dir / 'models'}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="the main job: prepare (fine-tune, export) and demo the suite's models")
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    p.add_argument("--var", default=str(ROOT / "var"), help="folder for models and data; default: var/")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_run)
