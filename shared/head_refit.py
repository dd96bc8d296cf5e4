"""Teaching a served classifier new labels in seconds: a head refit on frozen features, published
as a new version of its versions folder (``shared.model_versions``), which servers swap in live.

Why not fine-tune: a product that must answer a new intent within a minute cannot wait for a
full fine-tune (minutes to hours on a CPU). The encoder stays as it is; only the linear head
changes, refitted from the current one by the device's anchored L-BFGS (``shared.device.fit``,
measured in bench.device): the old labels' boundaries move only as far as the new examples ask.

A taught version serves the encoder's feature graph (int8, onnxruntime) and the head as
``head.npz`` (``ModelInfo.head_file``): the feature graph is the base encoder's cached one for
a probe version (the graph its head was fitted on), else exported once from the version's own
fine-tuned weights. A memory of training examples per label (their features) goes with it, so
a refit sees every old label, and a later teach starts from there without embedding them again.
Every file a version shares with its parent is hard-linked, not copied.
"""
from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from shared.errors import NlpSuiteError
from shared.model_dir import ModelInfo
from shared.model_versions import ModelVersions, Version, VersionInfo

logger = logging.getLogger(__name__)

HEAD_FILE = "head.npz"
MEMORY_FILE = "memory.npz"
FEATURES_DIR = "features"
MEMORY_PER_LABEL = 32
"""Training examples kept per label (their features): what keeps the old labels in a refit."""
TAUGHT_WEIGHT = 2.0
"""How much more a taught example counts than a memory example of the same label (bench.device)."""
ANCHOR = 1e-2
_OWN_FILES = {"version.json", "nlpsuite.json", HEAD_FILE, MEMORY_FILE, "spelling.json", "model_int8.onnx",
              "model.onnx", FEATURES_DIR}


class TeachError(NlpSuiteError):
    """A teach request that would change nothing or break the served model."""


@dataclass
class Memory:
    """Feature rows with their labels."""

    features: np.ndarray
    labels: list

    def save(self, path: Path) -> None:
        np.savez(path, features=self.features, labels=np.array(self.labels, dtype=str))

    @classmethod
    def load(cls, path: Path) -> "Memory":
        data = np.load(path)
        return cls(data["features"], [str(x) for x in data["labels"]])

    def without(self, labels: set) -> "Memory":
        keep = [i for i, label in enumerate(self.labels) if label not in labels]
        return Memory(self.features[keep], [self.labels[i] for i in keep])

    def __add__(self, other: "Memory") -> "Memory":
        return Memory(np.vstack([self.features, other.features]), self.labels + other.labels)


def current_head(folder: Path, info: ModelInfo) -> tuple[np.ndarray, np.ndarray]:
    """The served head (weight, bias): a taught version's ``head.npz``, else the trained weights'
    classifier layer."""
    if info.head_file:
        data = np.load(folder / info.head_file)
        return data["weight"], data["bias"]
    from safetensors.numpy import load_file

    weights = load_file(str(folder / "model.safetensors"))
    return weights["classifier.weight"].astype(np.float32), weights["classifier.bias"].astype(np.float32)


def _link_tree(source: Path, target: Path) -> None:
    """``target`` as a tree of hard links to ``source``'s files (a copy where links cannot go)."""
    shutil.copytree(source, target, copy_function=_link_or_copy, dirs_exist_ok=True)


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def feature_graphs(folder: Path, info: ModelInfo, staged: Path) -> Path:
    """Put the version's feature graph folder into ``staged/features``; its path there."""
    target = staged / FEATURES_DIR
    if (folder / FEATURES_DIR / "features.json").is_file():
        _link_tree(folder / FEATURES_DIR, target)
    elif info.recipe == "probe":  # its head was fitted on the base encoder's cached int8 graph
        from shared.export.features import cached_base_features

        _link_tree(cached_base_features(info.base_model), target)
    else:  # a fine-tuned encoder: its own pooled output, exported once
        from shared.export.features import export_features

        export_features(folder, target, int8=True)
    return target


def memory_of(folder: Path, encoder, training, labels: list, seed: int = 42) -> Memory:
    """The parent's memory, or ``MEMORY_PER_LABEL`` training examples per label embedded now."""
    if (folder / MEMORY_FILE).is_file():
        return Memory.load(folder / MEMORY_FILE)
    by_label: dict[str, list[str]] = {}
    for text, label in zip(training.texts, training.labels):
        if label in labels:
            by_label.setdefault(label, []).append(text)
    rng = random.Random(seed)
    texts, names = [], []
    for label, items in sorted(by_label.items()):
        chosen = rng.sample(items, min(MEMORY_PER_LABEL, len(items)))
        texts += chosen
        names += [label] * len(chosen)
    return Memory(encoder.encode(texts), names)


def refitted(weight, bias, labels: list, memory: Memory, new: Memory) -> tuple[np.ndarray, np.ndarray]:
    """The head over ``labels`` refitted on memory + new examples, anchored to ``weight``
    (rows of labels it does not have start at zero, with the median bias)."""
    from shared.device.fit import class_weights, refit_head

    data = memory + new
    index = {label: i for i, label in enumerate(labels)}
    ids = np.array([index[label] for label in data.labels])
    weights = class_weights(ids, len(labels))
    weights[len(memory.labels):] *= TAUGHT_WEIGHT
    return refit_head(data.features, ids, weights, weight, bias, ANCHOR)


def _updated_spelling(folder: Path, staged: Path, info: ModelInfo, texts: Sequence[str]) -> None:
    """The training vocabulary plus the taught words: they must not be 'corrected' away."""
    if not info.spelling_file:
        return
    from shared.data.spelling import SpellingCorrector

    extra = SpellingCorrector.from_texts(texts).words
    path = folder / info.spelling_file
    data = json.loads(path.read_text(encoding="utf-8"))
    for word, count in extra.items():
        data["words"][word] = int(data["words"].get(word, 0)) + int(count)
    (staged / info.spelling_file).write_text(json.dumps(data, indent=0) + "\n", encoding="utf-8")


def teach(versions: ModelVersions, add: Mapping[str, Sequence[str]], remove: Sequence[str] = (), *, training=None,
          base: Optional[Version] = None, threads: Optional[int] = None, note: str = "taught") -> Version:
    """A new version of ``base`` (default: the current one) that also knows ``add``'s labels (label ->
    example texts) and no longer ``remove``'s; committed, not switched to. ``training``: the
    labelled texts the memory is drawn from when the parent has none."""
    from shared.inference.features import FeatureEncoder

    started = time.perf_counter()
    base = base or versions.current()
    if base is None:
        raise TeachError(f"{versions.root} serves no version yet: nothing to teach")
    folder, info = base.folder, ModelInfo.load(base.folder)
    known = set(info.labels)
    clash = sorted(set(add) & known)
    missing = sorted(set(remove) - known)
    if clash or missing:
        raise TeachError(f"{versions.root}: " + "; ".join(
            ([f"already knows {', '.join(clash)}"] if clash else []) + ([f"does not know {', '.join(missing)}"] if missing else [])))
    staged = versions.stage()
    try:
        graphs = feature_graphs(folder, info, staged)
        encoder = FeatureEncoder(graphs, precision="int8", threads=threads, max_length=info.max_length)
        if training is None and not (folder / MEMORY_FILE).is_file():
            raise TeachError(f"{folder} has no memory of its training data: pass the training texts")
        memory = memory_of(folder, encoder, training, info.labels).without(set(remove))
        texts = [t for items in add.values() for t in items]
        new = Memory(encoder.encode(texts) if texts else np.zeros((0, encoder.dimension), np.float32),
                     [label for label, items in add.items() for _ in items])
        weight, bias = current_head(folder, info)
        kept = [i for i, label in enumerate(info.labels) if label not in set(remove)]
        labels = [info.labels[i] for i in kept] + list(add)
        start_w = np.vstack([weight[kept], np.zeros((len(add), weight.shape[1]), np.float32)])
        start_b = np.concatenate([bias[kept], np.full(len(add), float(np.median(bias)), np.float32)])
        weight, bias = refitted(start_w, start_b, labels, memory, new) if add else (start_w, start_b)
        for item in folder.iterdir():
            if item.name not in _OWN_FILES and item.is_file():
                _link_or_copy(item, staged / item.name)
        np.savez(staged / HEAD_FILE, weight=weight, bias=bias)
        (memory + new).save(staged / MEMORY_FILE)
        _updated_spelling(folder, staged, info, texts)
        graph = json.loads((graphs / "features.json").read_text(encoding="utf-8"))["files"]["int8"]
        taught = dict(info.hyperparameters.get("taught") or {})
        taught = {k: v for k, v in taught.items() if k not in set(remove)} | {k: len(v) for k, v in add.items()}
        info.labels, info.onnx_file, info.head_file = labels, f"{FEATURES_DIR}/{graph}", HEAD_FILE
        info.hyperparameters = dict(info.hyperparameters, taught=taught, taught_from=base.id)
        info.save(staged)
        seconds = round(time.perf_counter() - started, 2)
        version_info = VersionInfo(recipe=base.info.recipe, fingerprint=f"{base.info.fingerprint}+{_digest(add, remove)}",
                                   train_seconds=seconds, threads=threads, note=note,
                                   validation=dict(base.info.validation), test=dict(base.info.test))
        return versions.commit(staged, version_info)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _digest(add, remove) -> str:
    import hashlib

    payload = json.dumps({"add": {k: list(v) for k, v in sorted(add.items())}, "remove": sorted(remove)})
    return "taught-" + hashlib.sha256(payload.encode()).hexdigest()[:10]


__all__ = ["teach", "TeachError", "Memory", "current_head", "HEAD_FILE", "MEMORY_PER_LABEL"]
