"""Texts in, labels and calibrated probabilities out, batched, from any model folder."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from shared.data.spelling import SpellingCorrector
from shared.evaluation.calibration import apply_temperature
from shared.inference.backends import available_backends, create_backend, register_backend
from shared.model_dir import ModelFolderError, ModelInfo

__all__ = ["Prediction", "Predictor", "available_backends", "register_backend"]


@dataclass
class Prediction:
    """One input's answer: the top label, its calibrated confidence and the runner-ups."""

    label: str
    confidence: float
    top: list[tuple[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready form (confidences rounded to 6 digits), as the CLI and the web APIs print it."""
        return {
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "top": [{"label": l, "confidence": round(p, 6)} for l, p in self.top],
        }


def load_tokenizer(folder: Path, max_length: int):
    """The fast tokenizer from tokenizer.json alone (the ``tokenizers`` library, no torch)."""
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ModelFolderError(f"{folder} has no tokenizer.json")
    tokenizer = Tokenizer.from_file(str(path))
    pad_token = "[PAD]"
    special = folder / "special_tokens_map.json"
    if special.is_file():
        value = json.loads(special.read_text(encoding="utf-8")).get("pad_token", pad_token)
        pad_token = value["content"] if isinstance(value, dict) else value
    pad_id = tokenizer.token_to_id(pad_token)
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad_token)
    return tokenizer


def encode_batch(tokenizer, texts: Sequence) -> dict[str, np.ndarray]:
    """A padded batch of texts (or text pairs) as the graphs take it: int64 ids, mask, token types."""
    encodings = tokenizer.encode_batch(list(texts))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


class Predictor:
    """A fine-tuned classifier ready to serve.

    ``backend`` is ``"torch"``, ``"onnx"`` or ``"auto"`` (onnx when the folder holds an
    export, else torch). ``threads`` caps the intra-op threads of the backend.
    Inputs are texts, or (text, text) pairs for a pair-classification head.
    A folder trained with ``spelling_correction`` has its texts' unknown words corrected
    against the training vocabulary first; ``correct_spelling=False`` turns that off.
    A versions folder (``shared.model_versions``, as `nlpsuite run` serves) means its current version.
    """

    def __init__(self, model_dir: str | Path, backend: str = "auto", *, threads: int | None = None,
                 batch_size: int = 32, correct_spelling: bool = True):
        from shared.model_versions import served_folder

        self.folder = served_folder(model_dir)
        if not self.folder.is_dir():
            raise ModelFolderError(f"model folder {self.folder} does not exist")
        self.info = ModelInfo.load(self.folder)
        self.labels = list(self.info.labels)
        self.batch_size = batch_size
        if backend == "auto":
            backend = "onnx" if self.info.onnx_file else "torch"
        self.backend_name = backend
        self.tokenizer = load_tokenizer(self.folder, self.info.max_length)
        self.backend = create_backend(backend, self.folder, self.info, threads)
        self.spelling = None
        if correct_spelling and self.info.spelling_file:
            self.spelling = SpellingCorrector.load(self.folder / self.info.spelling_file)

    def _encode(self, texts: Sequence) -> dict[str, np.ndarray]:
        return encode_batch(self.tokenizer, texts)

    @staticmethod
    def _validate(texts) -> list:
        if isinstance(texts, (str, tuple)):
            raise TypeError("pass a list of texts, not a single text")
        items = list(texts)
        for i, item in enumerate(items):
            ok = isinstance(item, str) or (
                isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(t, str) for t in item)
            )
            if not ok:
                raise TypeError(f"input {i} is {type(item).__name__}, expected a text or a pair of texts")
        return [tuple(item) if isinstance(item, list) else item for item in items]

    def logits(self, texts: Iterable) -> np.ndarray:
        """Raw logits, one row per input, in input order."""
        items = self._validate(texts)
        if self.spelling is not None:
            items = [self.spelling.correct(t) if isinstance(t, str) else t for t in items]
        if not items:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        # Sorting by length keeps padding low inside each batch.
        order = sorted(range(len(items)), key=lambda i: len(items[i]) if isinstance(items[i], str) else sum(map(len, items[i])))
        out = np.zeros((len(items), len(self.labels)), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            out[idx] = self.backend(self._encode([items[i] for i in idx]))
        return out

    def predict_proba(self, texts: Iterable) -> np.ndarray:
        """Calibrated probabilities: softmax(logits / temperature)."""
        return apply_temperature(self.logits(texts), self.info.temperature)

    def predict(self, texts: Iterable, top_k: int = 5) -> list[Prediction]:
        """The ``top_k`` most likely labels of each input with calibrated confidences, in input order."""
        probs = self.predict_proba(texts)
        results = []
        for row in probs:
            ranked = np.argsort(-row)[:max(1, top_k)]
            top = [(self.labels[j], float(row[j])) for j in ranked]
            results.append(Prediction(top[0][0], top[0][1], top))
        return results
