"""The classifiers of ``nlpsuite run``: fine-tuned once per profile, exported, cached, reused.

The products declare what they need (``ClassifierSpec``: the chatbot its intent model, the news
monitor its sentiment model); this module fine-tunes each from its base model, exports it to
int8 ONNX and caches both under ``var/models/``, so later runs start in seconds. The ``quick``
profile fits a 2-core laptop; ``full`` uses the benchmark hyperparameters.
``nlpsuite run --prepare-only`` stops after this step and shows each model at work.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from shared.app.discovery import classifier_specs, load_parts
from shared.product import ClassifierSpec

logger = logging.getLogger(__name__)


def model_paths(name: str, profile: str, var_dir: Path) -> tuple[Path, Path]:
    """(fine-tuned torch folder, its int8 ONNX export) of a suite classifier under ``var_dir``."""
    return var_dir / "models" / f"{name}-{profile}", var_dir / "models" / f"{name}-{profile}-int8"


def is_prepared(spec: ClassifierSpec, profile: str, var_dir: Path) -> bool:
    """Whether ``spec``'s int8 folder for ``profile`` is already under ``var_dir``."""
    return (model_paths(spec.name, profile, var_dir)[1] / "nlpsuite.json").is_file()


def prepare_model(spec: ClassifierSpec, profile: str, var_dir: Path, threads: int | None) -> Path:
    """Fine-tune and export ``spec`` unless ``var/models/<name>-<profile>-int8`` exists."""
    from dataclasses import replace

    from shared.deploy import finetune_for_serving
    from shared.export import export_onnx

    trained, exported = model_paths(spec.name, profile, var_dir)
    if is_prepared(spec, profile, var_dir):
        logger.info("%s: using cached %s", spec.name, exported)
        return exported
    if (trained / "nlpsuite.json").is_file():  # trained before, the export was interrupted
        export_onnx(trained, exported, int8=True)
        return exported
    args = replace(spec.profiles[profile], threads=threads)
    logger.info("%s: fine-tuning %s (%s profile, about %g min on 2 cores)",
                spec.name, args.base, profile, spec.expected_minutes[profile])
    splits = dict(spec.load_data())
    finetune_for_serving(splits.pop("train"), args, exported, trained_dir=trained, **splits)
    return exported


def prepare_and_demo(var_dir: Path, profile: str, threads: int | None) -> int:
    """`nlpsuite run --prepare-only`: the classifiers, their test metrics and a demo."""
    from shared.inference import Predictor

    started = time.perf_counter()
    for spec in classifier_specs(load_parts()):
        folder = prepare_model(spec, profile, var_dir, threads)
        metrics = json.loads((folder / "metrics.json").read_text())
        print(f"\n{spec.name}: {folder}\n  test accuracy {metrics['accuracy']:.4f}, macro-F1 "
              f"{metrics['macro_f1']:.4f}, ECE {metrics['ece']:.4f}")
        predictor = Predictor(folder, "onnx", threads=1)
        texts = list(spec.demo_texts)
        for text, prediction in zip(texts, predictor.predict(texts, top_k=1)):
            print(f"  {text!r} -> {prediction.label} ({prediction.confidence:.2f})")
    print(f"\nready in {time.perf_counter() - started:.0f} s; models under {var_dir / 'models'}")
    return 0
