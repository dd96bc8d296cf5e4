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


def model_paths(name: str, profile: str, var_dir: Path) -> tuple[Path, Path]:
    """(fine-tuned torch folder, its int8 ONNX export) of a core classifier under ``var_dir``."""
    return var_dir / "models" / f"{name}-{profile}", var_dir / "models" / f"{name}-{profile}-int8"


def prepare_model(name: str, profile: str, var_dir: Path, threads: int | None) -> Path:
    """Fine-tune and export ``name`` unless ``var/models/<name>-<profile>-int8`` exists."""
    from shared.export import export_onnx
    from shared.training import finetune

    trained, exported = model_paths(name, profile, var_dir)
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


def prepare_and_demo(var_dir: Path, profile: str, threads: int | None) -> int:
    """`nlpsuite run --prepare-only`: the two classifiers, their test metrics and a demo."""
    from shared.inference import Predictor

    started = time.perf_counter()
    for name in ("banking77", "phrasebank"):
        folder = prepare_model(name, profile, var_dir, threads)
        metrics = json.loads((folder / "metrics.json").read_text())
        print(f"\n{name}: {folder}\n  test accuracy {metrics['accuracy']:.4f}, macro-F1 "
              f"{metrics['macro_f1']:.4f}, ECE {metrics['ece']:.4f}")
        predictor = Predictor(folder, "onnx", threads=1)
        for text, prediction in zip(DEMO_TEXTS[name], predictor.predict(DEMO_TEXTS[name], top_k=1)):
            print(f"  {text!r} -> {prediction.label} ({prediction.confidence:.2f})")
    print(f"\nready in {time.perf_counter() - started:.0f} s; models under {var_dir / 'models'}")
    return 0


def cmd_run(options) -> int:
    from shared.suite.runner import _settings, run_suite

    if options.prepare_only:
        settings = _settings(options)
        return prepare_and_demo(Path(settings.var_dir).resolve(), settings.profile, settings.threads)
    return run_suite(options)


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="the main job: prepare every product and run the whole suite")
    p.add_argument("--config", help="suite config file (default: $NLPSUITE_CONFIG or ./nlpsuite.yml)")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None,
                   help="quick (default; < 15 min on 2 cores the first time) or full (benchmark quality)")
    p.add_argument("--var", dest="var_dir", default=None, help="folder for models, databases, logs; default: var/")
    p.add_argument("--threads", type=int, default=None, help="torch threads for fine-tuning; default: all cores")
    p.add_argument("--web-port", type=int, default=None, help="the web app's port; default 8000 (suite.web_port)")
    p.add_argument("--prepare-only", action="store_true",
                   help="only fine-tune/export the two classifiers and classify a few demo texts")
    p.set_defaults(func=cmd_run)
