"""Batch jobs: a function from a batch of rows to a batch of rows, the same under every engine.

``apply_job(job, frame, columns)`` checks each row (a text that is a non-empty string of at
most ``MAX_CHARS`` characters, an id where an id column is named, a row the reader could
decode) and runs the job on the good ones. Every input row comes out exactly once: in
``ok`` with the job's columns, or in ``rejected`` with its file, row and reason. So rows in =
rows out + rows rejected holds by construction, and the engines check it against a count
made apart from the job.

Jobs hold their model per process, loaded on first use and kept (``_MODELS``): a Spark Python
worker scores many batches with one onnxruntime session, and never loads it per batch.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from shared.batch.sources import ERROR, ROW, SOURCE

MAX_CHARS = 20_000
ID = "id"
REJECTED_COLUMNS = (SOURCE, ROW, ID, "reason")
_MODELS: dict[tuple, object] = {}
_MODELS_LOCK = threading.Lock()


def _cached(key: tuple, load: Callable[[], object]):
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = load()
        return _MODELS[key]


@dataclass(frozen=True)
class Columns:
    """Which input column holds the text, and which the id (None: ids are ``file:row``)."""

    text: str
    id: str | None = None


@dataclass(frozen=True)
class ScoreJob:
    """Label, calibrated confidence and the top ``top_k`` of a fine-tuned classifier folder
    (its int8 ONNX export when it has one), one intra-op thread per task by default."""

    model_dir: str
    top_k: int = 3
    threads: int = 1
    batch_size: int = 64
    name = "score"

    def predictor(self):
        from shared.inference import Predictor

        return _cached(("score", str(Path(self.model_dir).resolve()), self.threads),
                       lambda: Predictor(self.model_dir, threads=self.threads, batch_size=self.batch_size))

    def __call__(self, texts: list[str]) -> pd.DataFrame:
        predictor = self.predictor()
        probabilities = predictor.predict_proba(texts)
        k = max(1, min(self.top_k, probabilities.shape[1]))
        order = np.argsort(-probabilities, axis=1)[:, :k]
        labels = np.asarray(predictor.labels, dtype=object)
        top = np.take_along_axis(probabilities, order, axis=1)
        return pd.DataFrame({"label": labels[order[:, 0]], "confidence": top[:, 0].astype(np.float64),
                             "top_labels": [list(labels[row]) for row in order],
                             "top_scores": [list(map(float, row)) for row in top]})

    @staticmethod
    def output_schema() -> list[tuple[str, str]]:
        return [("label", "string"), ("confidence", "double"), ("top_labels", "array<string>"),
                ("top_scores", "array<double>")]


@dataclass(frozen=True)
class EmbedJob:
    """The encoder's unit-length vectors (``shared.embeddings.Embedder``)."""

    model: str = "minilm-l6"
    threads: int = 1
    batch_size: int = 64
    max_length: int | None = None
    name = "embed"

    def embedder(self):
        from shared.embeddings import Embedder

        return _cached(("embed", str(self.model), self.threads, self.max_length),
                       lambda: Embedder(self.model, threads=self.threads, max_length=self.max_length))

    def __call__(self, texts: list[str]) -> pd.DataFrame:
        vectors = self.embedder().encode(texts, batch_size=self.batch_size)
        return pd.DataFrame({"vector": [row.astype(np.float32).tolist() for row in vectors]})

    @staticmethod
    def output_schema() -> list[tuple[str, str]]:
        return [("vector", "array<float>")]


def _reason(value, row_error, id_value, columns: Columns) -> str | None:
    if isinstance(row_error, str):
        return row_error
    if columns.id is not None and (id_value is None or (isinstance(id_value, float) and np.isnan(id_value))
                                   or (isinstance(id_value, str) and not id_value.strip())):
        return f"missing id (column {columns.id!r})"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f"missing text (column {columns.text!r})"
    if not isinstance(value, str):
        return f"text is {type(value).__name__}, not a string (column {columns.text!r})"
    if not value.strip():
        return f"empty text (column {columns.text!r})"
    if len(value) > MAX_CHARS:
        return f"text of {len(value):,} characters, over the {MAX_CHARS:,} limit"
    return None


def apply_job(job, frame: pd.DataFrame, columns: Columns) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ok, rejected) for one batch read by ``shared.batch.sources.read_split``.

    ``ok``: ``id`` (the id column as a string, else ``file:row``) and the job's columns;
    ``rejected``: ``_source``, ``_row``, ``id`` and ``reason``."""
    n = len(frame)
    texts = frame[columns.text].tolist() if columns.text in frame else [None] * n
    errors = frame[ERROR].tolist() if ERROR in frame else [None] * n
    sources = frame[SOURCE].tolist() if SOURCE in frame else [""] * n
    rows = frame[ROW].tolist() if ROW in frame else list(range(1, n + 1))
    raw_ids = frame[columns.id].tolist() if columns.id and columns.id in frame else [None] * n
    missing_column = None
    if n and columns.text not in frame and not all(isinstance(e, str) for e in errors):
        missing_column = f"no column {columns.text!r} (columns: {', '.join(c for c in frame if not c.startswith('_'))})"
    good, bad = [], []
    for i in range(n):
        reason = missing_column if missing_column and not isinstance(errors[i], str) else \
            _reason(texts[i], errors[i], raw_ids[i], columns)
        (bad if reason else good).append((i, reason))
    ids = [str(raw_ids[i]) if columns.id and raw_ids[i] is not None else f"{sources[i]}:{rows[i]}" for i in range(n)]
    rejected = pd.DataFrame({SOURCE: [sources[i] for i, _ in bad], ROW: [int(rows[i]) for i, _ in bad],
                             ID: [ids[i] for i, _ in bad], "reason": [r for _, r in bad]},
                            columns=list(REJECTED_COLUMNS))
    if not good:
        return pd.DataFrame(columns=[ID] + [name for name, _ in job.output_schema()]), rejected
    scored = job([texts[i] for i, _ in good])
    scored.insert(0, ID, [ids[i] for i, _ in good])
    return scored.reset_index(drop=True), rejected
