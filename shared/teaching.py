"""Teaching a served classifier new labels in seconds, published as a new version of its
versions folder (``shared.model_versions``), which servers swap in live.

Why not fine-tune: a product that must answer a new intent within a minute cannot wait for a
full fine-tune (minutes to hours on a CPU). The encoder and the trained head stay as they are;
the new version serves the encoder's feature graph with the head beside it (``head.npz``,
``ModelInfo.head_file``) and a bank of example features: a memory of training examples of every
label, plus the taught examples. A text whose ``NEIGHBOURS`` nearest bank examples are mostly
examples of one taught label gets that label (``TaughtHead``); any other text gets exactly what
the trained head said. Measured against refitting the head on the new examples (the device's
anchored L-BFGS, ``shared.device.fit``) in bench.live (``teach_methods``): the refit moved the
old labels' boundaries and the bot declined fewer unknown requests afterwards; the vote leaves
every old answer as it was unless a taught example is nearer.

The feature graph is the base encoder's cached int8 one for a probe version (the graph its head
was fitted on), else exported once from the version's own fine-tuned weights. The memory is
embedded once per version and goes with every taught version made from it. Files a version
shares with its parent are hard-linked, not copied.
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
FEATURES_DIR = "features"
MEMORY_PER_LABEL = 32
"""Training examples kept per label (their features) in the bank a taught label must beat."""
NEIGHBOURS = 3
"""A taught label needs a majority of this many nearest bank examples ..."""
NEAREST_TAUGHT = 0.95
"""... or a taught example at least this close (cosine) as the nearest: what was taught is
answered as taught, word for word and near repeats (the device's rule, shared.device.classifier)."""
CONFIDENCE_MARGIN = 2.0
"""A taught label's logit: the trained head's top logit plus this many temperatures (about 0.88
when the head was sure of its own answer, never below the abstention threshold in practice)."""
_NOT_LINKED = {"version.json", "nlpsuite.json", HEAD_FILE, "spelling.json", "model_int8.onnx", "model.onnx", FEATURES_DIR}


class TeachError(NlpSuiteError):
    """A teach request that would change nothing or break the served model."""


@dataclass
class TaughtHead:
    """The trained head over the first ``len(bias)`` labels, and the example bank that decides
    the taught ones (label indices in ``bank_labels``; features unit length)."""

    weight: np.ndarray
    bias: np.ndarray
    bank: np.ndarray
    bank_labels: np.ndarray
    taught: np.ndarray
    """The label indices decided by the vote (the taught ones)."""

    def save(self, path: Path) -> None:
        np.savez(path, weight=self.weight, bias=self.bias, bank=self.bank.astype(np.float16),
                 bank_labels=self.bank_labels, taught=self.taught)

    @classmethod
    def load(cls, path: Path) -> "TaughtHead":
        data = np.load(path)
        return cls(data["weight"], data["bias"], data["bank"].astype(np.float32), data["bank_labels"], data["taught"])

    def logits(self, features: np.ndarray, temperature: float) -> np.ndarray:
        """The trained head's logits, and for a text the vote gives to a taught label, that label on top."""
        n_labels = len(self.bias) + len(self.taught)
        out = np.full((len(features), n_labels), -1e4, dtype=np.float32)
        out[:, :len(self.bias)] = features @ self.weight.T + self.bias
        if not len(self.taught) or not len(features):
            return out
        unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        similarity = unit @ self.bank.T
        k = min(NEIGHBOURS, len(self.bank_labels))
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        votes = (self.bank_labels[nearest][:, :, None] == self.taught[None, None, :]).sum(axis=1)
        winner = self.taught[votes.argmax(axis=1)]
        closest = similarity.argmax(axis=1)
        repeat = (similarity.max(axis=1) >= NEAREST_TAUGHT) & np.isin(self.bank_labels[closest], self.taught)
        winner = np.where(repeat, self.bank_labels[closest], winner)
        rows = np.flatnonzero(repeat | (votes.max(axis=1) > k // 2))
        top = out[rows, :len(self.bias)].max(axis=1)
        out[rows, winner[rows]] = top + CONFIDENCE_MARGIN * temperature
        return out


def trained_head(folder: Path, info: ModelInfo) -> TaughtHead:
    """A version's head: its ``head.npz`` when taught before, else the trained classifier layer."""
    if info.head_file:
        return TaughtHead.load(folder / info.head_file)
    from safetensors.numpy import load_file

    weights = load_file(str(folder / "model.safetensors"))
    empty = np.zeros((0, weights["classifier.weight"].shape[1]), np.float32)
    return TaughtHead(weights["classifier.weight"].astype(np.float32), weights["classifier.bias"].astype(np.float32),
                      empty, np.zeros(0, np.int64), np.zeros(0, np.int64))


def link_or_copy(src, dst):
    """A hard link to ``src`` at ``dst`` (a version shares its parent's files), a copy where links cannot go."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def feature_graphs(folder: Path, info: ModelInfo, staged: Path) -> Path:
    """Put the version's feature graph folder into ``staged/features``; its path there."""
    target = staged / FEATURES_DIR
    if (folder / FEATURES_DIR / "features.json").is_file():
        shutil.copytree(folder / FEATURES_DIR, target, copy_function=link_or_copy)
    elif info.recipe == "probe":  # its head was fitted on the base encoder's cached int8 graph
        from shared.export.features import cached_base_features

        shutil.copytree(cached_base_features(info.base_model), target, copy_function=link_or_copy)
    else:  # a fine-tuned encoder: its own pooled output, exported once
        from shared.export.features import export_features

        export_features(folder, target, int8=True)
    return target


def memory_texts(training, labels: Sequence[str], per_label: Mapping[str, int], seed: int = 42):
    """(texts, labels): up to ``per_label.get(label, MEMORY_PER_LABEL)`` training examples of each label."""
    by_label: dict[str, list[str]] = {}
    for text, label in zip(training.texts, training.labels):
        if label in labels:
            by_label.setdefault(label, []).append(text)
    rng = random.Random(seed)
    texts, names = [], []
    for label, items in sorted(by_label.items()):
        chosen = rng.sample(items, min(per_label.get(label, MEMORY_PER_LABEL), len(items)))
        texts += chosen
        names += [label] * len(chosen)
    return texts, names


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (cosine similarity is then a dot product)."""
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _new_head(head: TaughtHead, labels: list, encoder, add, remove: set, training, per_label) -> tuple[TaughtHead, list]:
    """The head and labels after removing ``remove`` and adding ``add``'s examples to the bank."""
    trained_labels = labels[:len(head.bias)]
    if not len(head.bank_labels):  # first teach from this trained version: embed its memory once
        if training is None:
            raise TeachError("the first teach of a trained version needs its training texts (for the memory)")
        texts, names = memory_texts(training, trained_labels, per_label)
        index = {label: i for i, label in enumerate(labels)}
        head.bank, head.bank_labels = unit_rows(encoder.encode(texts)), np.array([index[n] for n in names], np.int64)
    names = [labels[i] for i in head.bank_labels]
    keep_rows = [i for i, name in enumerate(names) if name not in remove]
    kept_trained = [label for label in trained_labels if label not in remove]
    kept_taught = [labels[i] for i in head.taught if labels[i] not in remove]
    new_labels = kept_trained + kept_taught + list(add)
    index = {label: i for i, label in enumerate(new_labels)}
    texts = [t for items in add.values() for t in items]
    added = unit_rows(encoder.encode(texts)) if texts else np.zeros((0, head.bank.shape[1]), np.float32)
    rows = [trained_labels.index(label) for label in kept_trained]
    return TaughtHead(head.weight[rows], head.bias[rows], np.vstack([head.bank[keep_rows], added]),
                      np.array([index[names[i]] for i in keep_rows] + [index[label] for label, items in add.items()
                                                                     for _ in items], np.int64),
                      np.array([index[label] for label in kept_taught + list(add)], np.int64)), new_labels


def teach(versions: ModelVersions, add: Mapping[str, Sequence[str]], remove: Sequence[str] = (), *, training=None,
          base: Optional[Version] = None, threads: Optional[int] = None, note: str = "taught",
          memory_per_label: Optional[Mapping[str, int]] = None) -> Version:
    """A new version of ``base`` (default: the current one) that also knows ``add``'s labels (label ->
    example texts) and no longer ``remove``'s; committed, not switched to. ``training``: the
    labelled texts the memory is drawn from on a first teach; ``memory_per_label``: more memory
    for labels that cover much ground (a product's decline intents)."""
    from shared.inference.features import FeatureEncoder

    started = time.perf_counter()
    base = base or versions.current()
    if base is None:
        raise TeachError(f"{versions.root} serves no version yet: nothing to teach")
    folder, info = base.folder, ModelInfo.load(base.folder)
    clash, missing = sorted(set(add) & set(info.labels)), sorted(set(remove) - set(info.labels))
    if clash or missing:
        raise TeachError(f"{versions.root}: " + "; ".join(
            ([f"already knows {', '.join(clash)}"] if clash else []) + ([f"does not know {', '.join(missing)}"] if missing else [])))
    staged = versions.stage()
    try:
        graphs = feature_graphs(folder, info, staged)
        encoder = FeatureEncoder(graphs, precision="int8", threads=threads, max_length=info.max_length)
        head, labels = _new_head(trained_head(folder, info), list(info.labels), encoder, dict(add), set(remove),
                                 training, dict(memory_per_label or {}))
        for item in folder.iterdir():
            if item.name not in _NOT_LINKED and item.is_file():
                link_or_copy(item, staged / item.name)
        head.save(staged / HEAD_FILE)
        _updated_spelling(folder, staged, info, [t for items in add.values() for t in items])
        graph = json.loads((graphs / "features.json").read_text(encoding="utf-8"))["files"]["int8"]
        taught = {k: v for k, v in (info.hyperparameters.get("taught") or {}).items() if k not in set(remove)}
        info.labels, info.onnx_file, info.head_file = labels, f"{FEATURES_DIR}/{graph}", HEAD_FILE
        info.hyperparameters = dict(info.hyperparameters, taught=taught | {k: len(v) for k, v in add.items()},
                                    taught_from=base.id)
        info.save(staged)
        version_info = VersionInfo(recipe=base.info.recipe, fingerprint=f"{base.info.fingerprint}+{_digest(add, remove)}",
                                   train_seconds=round(time.perf_counter() - started, 2), threads=threads, note=note,
                                   validation=dict(base.info.validation), test=dict(base.info.test))
        return versions.commit(staged, version_info)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _updated_spelling(folder: Path, staged: Path, info: ModelInfo, texts: Sequence[str]) -> None:
    """The training vocabulary plus the taught words: they must not be 'corrected' away."""
    if not info.spelling_file:
        return
    from shared.data.spelling import SpellingCorrector

    data = json.loads((folder / info.spelling_file).read_text(encoding="utf-8"))
    for word, count in SpellingCorrector.from_texts(texts).words.items():
        data["words"][word] = int(data["words"].get(word, 0)) + int(count)
    (staged / info.spelling_file).write_text(json.dumps(data, indent=0) + "\n", encoding="utf-8")


def _digest(add, remove) -> str:
    import hashlib

    payload = json.dumps({"add": {k: list(v) for k, v in sorted(add.items())}, "remove": sorted(remove)})
    return "taught-" + hashlib.sha256(payload.encode()).hexdigest()[:10]


__all__ = ["teach", "TeachError", "TaughtHead", "trained_head", "memory_texts", "link_or_copy", "unit_rows", "HEAD_FILE", "MEMORY_PER_LABEL",
           "NEIGHBOURS"]
