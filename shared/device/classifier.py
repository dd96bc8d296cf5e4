"""``DeviceClassifier``: a bundle that answers, learns new labels where it runs, and rolls back.

Answering: the tokenizer, the int8 encoder on onnxruntime (features out), the head in numpy,
softmax with the calibrated temperature, ``abstain`` when the confidence is under the threshold
chosen on validation data. Learning: the new examples' features join the bundle's memory of the
training set and what was learned before; the head is refitted from the current one, anchored to
it (``shared.device.fit``), recalibrated, and written as a new version switched in atomically.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from .bundle import ENCODER, SPELLING, TOKENIZER, Bundle, DeviceError, Examples, Head
from .fit import class_weights, fit_temperature, refit_head, softmax

MIN_NEW_LABEL_EXAMPLES = 5
ANCHOR = 1e-2
"""Pull of a refit towards the current head (see shared.device.fit); measured in bench.device."""
TAUGHT_WEIGHT = 2.0
NEAREST_TAUGHT = 0.95
"""A text at least this close (cosine) to an example taught on the device takes its label: a
correction holds for the text corrected and its near repeats, and nothing farther moves."""
"""How much more an example the owner taught counts than one of the memory's of the same label."""


@dataclass
class DevicePrediction:
    """One text's answer: the label, its calibrated confidence, the runner-ups, and whether the
    confidence is under the bundle's threshold (the caller should not act on it)."""

    label: str
    confidence: float
    top: list = field(default_factory=list)
    abstain: bool = False

    def to_dict(self) -> dict:
        return {"label": self.label, "confidence": round(self.confidence, 6), "abstain": self.abstain,
                "top": [{"label": label, "confidence": round(p, 6)} for label, p in self.top]}


@dataclass
class LearnReport:
    """What a ``learn`` did: the new version, the labels it added, how long it took."""

    version: str
    new_labels: list
    examples: int
    seconds: float

    def to_dict(self) -> dict:
        return {"version": self.version, "new_labels": self.new_labels, "examples": self.examples,
                "seconds": round(self.seconds, 3)}


def _crash_point(step: str) -> None:
    """Fault injection for the tests: ``NLPSUITE_DEVICE_CRASH_AT=<step>`` kills the process there."""
    if os.environ.get("NLPSUITE_DEVICE_CRASH_AT") == step:
        os.kill(os.getpid(), 9)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


class DeviceClassifier:
    """A bundle loaded for answering and learning (``threads``: onnxruntime intra-op threads)."""

    def __init__(self, bundle: str | Path, *, threads: int = 1, top_k: int = 5):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.bundle = Bundle(bundle)
        self._memory_unit = None  # the memory as unit vectors, loaded on the first prediction after learning
        manifest = self.bundle.manifest
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self._session = ort.InferenceSession(str(self.bundle.path(ENCODER)), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        self.tokenizer = Tokenizer.from_file(str(self.bundle.path(TOKENIZER)))
        self.tokenizer.enable_truncation(max_length=int(manifest["max_length"]))
        self.tokenizer.enable_padding(pad_id=int(manifest["pad_id"]), pad_token=manifest["pad_token"])
        self.speller = None
        if SPELLING in manifest["files"]:
            from .spelling import Speller

            self.speller = Speller.load(self.bundle.path(SPELLING))
        self.top_k = top_k
        self._lock = threading.Lock()  # one learn or rollback at a time
        self._load_current()

    def _load_current(self) -> None:
        version = self.bundle.current()
        self.head, self.learned = self.bundle.load_version(version)
        self.version = version

    @property
    def labels(self) -> list:
        return list(self.head.labels)

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder's pooled features of ``texts`` (spelling corrected first when the bundle says so).

        One text at a time: the int8 graph quantizes its activations with one scale per call, so in
        a batch a text's answer would depend on the other texts (and on their padding); alone it
        is the same every time, on every processor."""
        texts = [self.speller.correct(t) for t in texts] if self.speller else list(texts)
        out = np.zeros((len(texts), int(self.bundle.manifest["dimension"])), dtype=np.float32)
        for i, encoding in enumerate(self.tokenizer.encode_batch(texts)):
            n = sum(encoding.attention_mask)  # no padding: the text alone
            feed = {"input_ids": np.array([encoding.ids[:n]], dtype=np.int64),
                    "attention_mask": np.array([encoding.attention_mask[:n]], dtype=np.int64),
                    "token_type_ids": np.array([encoding.type_ids[:n]], dtype=np.int64)}
            out[i] = self._session.run(None, {k: feed[k] for k in self._inputs})[0][0]
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        head = self.head  # one version for the whole call, even if a learn lands meanwhile
        return softmax((self.features(texts) @ head.weight.T + head.bias) / head.temperature)

    def predict(self, texts: Sequence[str], top_k: int | None = None) -> list[DevicePrediction]:
        """The label, calibrated confidence, top k and abstain flag of each text, in order."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single text")
        head, k = self.head, top_k or self.top_k
        features = self.features(texts)
        probs = softmax((features @ head.weight.T + head.bias) / head.temperature)
        taught = self._nearest_taught(features)
        results = []
        for row, (similarity, label) in zip(probs, taught):
            ranked = np.argsort(-row)[:max(1, k)]
            top = [(head.labels[j], float(row[j])) for j in ranked]
            if label is not None and label != top[0][0]:  # a correction taught here: it holds
                confidence = max(float(row[head.labels.index(label)]), similarity)
                top = [(label, confidence)] + [t for t in top if t[0] != label][:max(1, k) - 1]
            results.append(DevicePrediction(top[0][0], top[0][1], top, top[0][1] < head.threshold))
        return results

    def _nearest_taught(self, features: np.ndarray) -> list[tuple[float, str | None]]:
        """Per text, when its nearest neighbour among the memory and the examples taught here is
        a taught one at a cosine similarity of ``NEAREST_TAUGHT`` or more: (that similarity, its
        label); else (0, None). A correction then holds for the text corrected and its near
        repeats, and a text closer to what the model already knew keeps the head's answer."""
        if self.learned is None or not len(self.learned.labels):
            return [(0.0, None)] * len(features)
        if self._memory_unit is None:
            memory = self.bundle.memory()
            self._memory_unit = _unit(memory.features) if memory is not None else np.zeros((0, features.shape[1]))
        unit = _unit(features)
        taught = unit @ _unit(self.learned.features).T
        known = (unit @ self._memory_unit.T).max(axis=1) if len(self._memory_unit) else np.full(len(unit), -1.0)
        best = taught.argmax(axis=1)
        out = []
        for i, j in enumerate(best):
            similarity = float(taught[i, j])
            hit = similarity >= NEAREST_TAUGHT and similarity > known[i]
            out.append((similarity, self.learned.labels[j]) if hit else (0.0, None))
        return out

    def learn(self, texts: Sequence[str], labels: Sequence[str]) -> LearnReport:
        """Learn ``labels`` for ``texts`` (new labels need 5 examples or more); a new head version."""
        started = time.perf_counter()
        texts, labels = [str(t).strip() for t in texts], [str(y).strip() for y in labels]
        self._check(texts, labels)
        with self._lock:
            head, new = self.head, sorted(set(labels) - set(self.head.labels))
            taught = Examples(self.features(texts), labels)
            learned = taught if self.learned is None else self.learned + taught
            new_head = self._refit(head, new, learned)
            version = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
            info = {"parent": self.version, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "examples_learned": len(learned.labels), "new_labels": new}
            self.bundle.write_version(version, new_head, learned, info, crash_at=_crash_point)
            self.head, self.learned, self.version = new_head, learned, version
        return LearnReport(version, new, len(texts), time.perf_counter() - started)

    def _check(self, texts: list[str], labels: list[str]) -> None:
        if len(texts) != len(labels) or not texts:
            raise DeviceError(f"learn needs as many labels as texts, and at least one ({len(texts)} and {len(labels)})")
        empty = next((i for i, (t, y) in enumerate(zip(texts, labels)) if not t or not y), None)
        if empty is not None:
            raise DeviceError(f"example {empty + 1}: empty {'text' if not texts[empty] else 'label'}")
        counts = {label: labels.count(label) for label in set(labels) - set(self.head.labels)}
        few = sorted(label for label, n in counts.items() if n < MIN_NEW_LABEL_EXAMPLES)
        if few:
            raise DeviceError(f"new label(s) with fewer than {MIN_NEW_LABEL_EXAMPLES} examples: "
                              + ", ".join(f"{label!r} ({counts[label]})" for label in few))

    def _refit(self, head: Head, new: list, learned: Examples) -> Head:
        memory = self.bundle.memory()
        if memory is None:
            raise DeviceError(f"{self.bundle.folder} has no memory of its training set, so learning would "
                              "forget the old labels: pack it with --data")
        labels = head.labels + new
        data = memory + learned
        index = {label: i for i, label in enumerate(labels)}
        ids = np.array([index[label] for label in data.labels])
        start = np.vstack([head.weight, np.zeros((len(new), head.weight.shape[1]), np.float32)])
        bias = np.concatenate([head.bias, np.full(len(new), float(np.median(head.bias)), np.float32)])
        weights = class_weights(ids, len(labels))
        weights[len(memory.labels):] *= TAUGHT_WEIGHT
        weight, bias = refit_head(data.features, ids, weights, start, bias, ANCHOR)
        temperature = fit_temperature(data.features @ weight.T + bias, ids)
        return Head(weight, bias, labels, temperature, head.threshold)

    def rollback(self) -> str:
        """Serve the version before the current one again; its id."""
        with self._lock:
            parent = self.bundle.version_info(self.version).get("parent")
            if not parent or parent not in self.bundle.versions():
                raise DeviceError(f"{self.bundle.folder}: version {self.version} has no earlier version to roll back to")
            self.bundle.switch(parent)
            self._load_current()
            return self.version

    def info(self) -> dict:
        """What the bundle is: its source, labels, versions and the figures it was packed with."""
        m = self.bundle.manifest
        return {"bundle": str(self.bundle.folder), "version": self.version, "versions": self.bundle.versions(),
                "labels": len(self.labels), "new_labels": sorted(set(self.labels) - set(m["labels"])),
                "examples_learned": 0 if self.learned is None else len(self.learned.labels),
                "source": m.get("source"), "metrics": m.get("metrics"), "packed": m.get("created"),
                "layers": m.get("layers"), "vocabulary": m.get("vocabulary"), "size_mb": m.get("size_mb")}
