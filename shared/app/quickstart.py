"""The classifiers of ``nlpsuite run``: a first version within minutes, better ones live.

The products declare what they need (``ClassifierSpec``: the chatbot its intent model, the news
monitor its sentiment model). Each is served from a versions folder ``var/models/<name>/``
(``shared.model_versions``): a first run trains the spec's ``first`` arguments (the probe
recipe: frozen int8 features and a logistic head, about a minute on 2 cores) and points at it,
so the suite answers within minutes. The upgrade (``shared.app.upgrade``) then trains the
profile's recipe in the background and switches to it only when it beats the served version on
validation data. A later run serves the best version already there and trains nothing twice:
a version remembers the fingerprint of its arguments and data.

Every version is measured the same way, on the served int8 graph: validation (a split of the
training data fixed per task, so versions are compared on the same texts) and test figures.
``nlpsuite run --prepare-only`` trains the first and the profile's version in the foreground
and shows the served one at work.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
import time
from pathlib import Path

from shared.model_versions import ModelVersions, Version, VersionInfo
from shared.product import ClassifierSpec

logger = logging.getLogger(__name__)
VALIDATION_SIZE, SPLIT_SEED = 0.1, 42
"""The validation split of every task without one of its own: the same for every version."""
_NOT_IN_FINGERPRINT = ("threads", "progress", "tensorboard", "eval_batch_size", "logging_steps")


def model_root(name: str, var_dir: Path) -> Path:
    """The versions folder of a suite classifier (what the products are given)."""
    return Path(var_dir) / "models" / name


def _splits(spec: ClassifierSpec) -> dict:
    from shared.data import stratified_split

    splits = dict(spec.load_data())
    if "validation" not in splits:
        splits["train"], splits["validation"] = stratified_split(splits["train"], VALIDATION_SIZE, seed=SPLIT_SEED)
    return splits


def fingerprint(args, splits: dict) -> str:
    """The training arguments (not how many threads ran them) and every text and label used."""
    from shared.training.pipeline import data_sha256

    values = {k: v for k, v in args.to_dict().items() if k not in _NOT_IN_FINGERPRINT}
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode())
    for name in sorted(splits):
        digest.update(f"{name}:{data_sha256(splits[name])}".encode())
    return digest.hexdigest()[:16]


def served_figures(folder: Path, data, threads: int | None) -> dict:
    """Accuracy and macro-F1 of the served (int8) graph in ``folder`` on ``data``."""
    from shared.evaluation.metrics import classification_metrics
    from shared.inference import Predictor

    predictor = Predictor(folder, "onnx", threads=threads)
    ids = {label: i for i, label in enumerate(predictor.labels)}
    metrics = classification_metrics([ids[label] for label in data.labels], predictor.predict_proba(data.texts),
                                     predictor.labels)
    return {"accuracy": round(metrics["accuracy"], 4), "macro_f1": round(metrics["macro_f1"], 4),
            "n": len(data.labels)}


def train_version(spec: ClassifierSpec, args, versions: ModelVersions, threads: int | None, note: str) -> Version:
    """The version ``args`` make of ``spec``: found when already trained, else trained, exported,
    measured on the served graph and committed (not switched to: the caller decides)."""
    from shared.deploy import finetune_for_serving

    args = dataclasses.replace(args, threads=threads)
    splits = _splits(spec)
    key = fingerprint(args, splits)
    existing = versions.find(key)
    if existing is not None:
        logger.info("%s: %s version %s already trained", spec.name, args.recipe, existing.id)
        return existing
    staged = versions.stage()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"nlpsuite-{spec.name}-") as tmp:
        served = staged  # the version folder is the served model folder, plus version.json
        finetune_for_serving(splits["train"], args, served, validation=splits["validation"],
                             test=splits.get("test"), trained_dir=Path(tmp) / "trained",
                             keep_fp32=False, keep_torch=True)  # the weights stay: `nlpsuite device pack` reads them
    seconds = time.perf_counter() - started
    info = VersionInfo(recipe=args.recipe, fingerprint=key, train_seconds=round(seconds, 1), threads=threads,
                       note=note, validation=served_figures(served, splits["validation"], threads),
                       test=served_figures(served, splits["test"], threads) if "test" in splits else {})
    version = versions.commit(staged, info)
    logger.info("%s: %s version %s in %.0f s: validation macro-F1 %.4f, test accuracy %s", spec.name, args.recipe,
                version.id, seconds, info.score, info.test.get("accuracy"))
    return version


def has_version(spec: ClassifierSpec, var_dir: Path) -> bool:
    """Whether ``spec`` already serves a version under ``var_dir`` that knows every label of its data."""
    current = ModelVersions(model_root(spec.name, var_dir)).current()
    return current is not None and not _lacks_labels(spec, current)


def _lacks_labels(spec: ClassifierSpec, version: Version) -> bool:
    """Whether the data now has labels ``version`` never learned (a product added an intent since):
    serving it would never answer them, so a first version is trained on the new data."""
    from shared.model_dir import ModelInfo

    missing = set(spec.load_data()["train"].labels) - set(ModelInfo.load(version.folder).labels)
    if missing:
        logger.info("%s: version %s lacks %s; training a first version on the current data", spec.name, version.id,
                    ", ".join(sorted(missing)))
    return bool(missing)


def ensure_serving(spec: ClassifierSpec, profile: str, var_dir: Path, threads: int | None) -> Version:
    """The version ``spec`` serves: the current one (unless the data has labels it lacks), else a
    first one trained now (the spec's ``first`` arguments, or the profile's when it declares none)
    and switched to."""
    versions = ModelVersions(model_root(spec.name, var_dir))
    current = versions.current()
    if current is not None and not _lacks_labels(spec, current):
        return current
    first = spec.first or spec.profiles[profile]
    version = train_version(spec, first, versions, threads, note="first: serves while better ones train")
    versions.switch(version.id)
    return version


def upgrade(spec: ClassifierSpec, profile: str, var_dir: Path, threads: int | None) -> tuple[Version, bool]:
    """Train the profile's recipe (unless already trained) and switch to it when it beats the
    served version on validation; (the profile's version, whether it now serves)."""
    versions = ModelVersions(model_root(spec.name, var_dir))
    version = train_version(spec, spec.profiles[profile], versions, threads, note=f"{profile} profile")
    if spec.carry_over is not None:
        version = spec.carry_over(versions, version)
    switched = versions.switch_if_better(version)
    versions.prune()
    return version, switched


def prepare_and_demo(var_dir: Path, profile: str, threads: int | None) -> int:
    """`nlpsuite run --prepare-only`: each classifier's first and profile version, the served
    one's figures and a demo."""
    from shared.app.discovery import classifier_specs, load_parts
    from shared.inference import Predictor
    from shared.model_versions import served_folder

    started = time.perf_counter()
    for spec in classifier_specs(load_parts()):
        ensure_serving(spec, profile, var_dir, threads)
        upgrade(spec, profile, var_dir, threads)
        served = ModelVersions(model_root(spec.name, var_dir)).current()
        print(f"\n{spec.name}: {served.folder} ({served.info.recipe})\n  test accuracy "
              f"{served.info.test.get('accuracy')}, macro-F1 {served.info.test.get('macro_f1')}; validation "
              f"macro-F1 {served.info.score:.4f}")
        predictor = Predictor(served_folder(model_root(spec.name, var_dir)), "onnx", threads=1)
        texts = list(spec.demo_texts)
        for text, prediction in zip(texts, predictor.predict(texts, top_k=1)):
            print(f"  {text!r} -> {prediction.label} ({prediction.confidence:.2f})")
    print(f"\nready in {time.perf_counter() - started:.0f} s; models under {var_dir / 'models'}")
    return 0
