"""The relevance scorer: a cross-encoder that reads what the user liked and one candidate.

Input: (texts of the user's strongest recent items joined, the candidate's text); output:
P("yes", the user interacts with the candidate). It is fine-tuned through the core
(``shared.training.finetune`` with the "pair-classification" head) on positives the users did
interact with and negatives sampled from the users' own retrieval candidates, which are the
hard cases the scorer meets when it reranks (see ``model._scorer_cases``). It is served by the core's ``Predictor`` from
the int8 ONNX export (onnxruntime, no torch at serving time).
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from recommender.data import Item
from shared.data import LabelledTexts
from shared.inference import Predictor

if TYPE_CHECKING:  # annotations only: recommender.model imports this module
    from recommender.model.config import FitConfig

logger = logging.getLogger(__name__)

YES, NO = "yes", "no"
CONTEXT_SEPARATOR = " | "


def context_text(ranked_items: Sequence[str], items: Mapping[str, Item], n: int) -> str:
    """The first ``n`` items of a user's history (strongest first) as one text."""
    return CONTEXT_SEPARATOR.join(items[i].text for i in ranked_items[:n] if i in items)


def scorer_examples(cases: Iterable[tuple[Sequence[str], Sequence[str], Sequence[str]]],
                    items: Mapping[str, Item], context_items: int) -> LabelledTexts:
    """Pair examples labelled yes/no from (context items strongest first, positives, negatives)."""
    texts, labels = [], []
    for context_ids, positives, negatives in cases:
        context = context_text(list(context_ids), items, context_items)
        for item, label in [(i, YES) for i in positives] + [(i, NO) for i in negatives]:
            texts.append((context, items[item].text))
            labels.append(label)
    return LabelledTexts(texts, labels, "recommender scorer examples")


def truncated_encoder(base: str | Path, layers: int, out_dir: str | Path) -> Path:
    """A copy of ``base`` keeping only its first ``layers`` transformer layers.

    Reranking 50 candidates costs 50 cross-encoder passes per request; fewer layers make
    each pass proportionally cheaper (the latency lever when the full MiniLM is too slow).
    """
    from transformers import AutoModel, AutoTokenizer

    from shared.models import resolve_model

    path = resolve_model(base)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    total = model.config.num_hidden_layers
    if not 1 <= layers <= total:
        raise ValueError(f"scorer layers must be from 1 to {total}, got {layers}")
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(path, local_files_only=True).save_pretrained(out_dir)
    return out_dir


def train_scorer(examples: LabelledTexts, out_dir: str | Path, config: FitConfig, *, base: str) -> Path:
    """Fine-tune through the core with ``config``'s scorer hyperparameters, export int8 ONNX
    into ``out_dir``; returns ``out_dir``. ``scorer_layers`` keeps only the base encoder's
    first layers (see ``truncated_encoder``)."""
    from shared.deploy import finetune_for_serving
    from shared.training import FineTuneArgs

    if set(examples.labels) != {YES, NO}:
        raise ValueError(f"scorer examples need both labels yes and no, got {sorted(set(examples.labels))}")
    out_dir = Path(out_dir)
    if config.scorer_layers:
        base = truncated_encoder(base, config.scorer_layers, out_dir.parent / f".{out_dir.name}-base")
    args = FineTuneArgs(base=str(base), head="pair-classification", epochs=config.scorer_epochs,
                        batch_size=config.scorer_batch_size, learning_rate=config.scorer_learning_rate,
                        max_length=config.max_length, threads=config.threads, seed=config.seed,
                        max_steps=config.scorer_max_steps, progress=config.progress, early_stopping_patience=2,
                        class_weights=True)  # negatives outnumber positives
    result = finetune_for_serving(examples, args, out_dir, keep_fp32=False)  # serving reads the int8 graph
    logger.info("scorer validation accuracy %.3f macro-F1 %.3f", result.metrics["accuracy"], result.metrics["macro_f1"])
    shutil.rmtree(out_dir.parent / f".{out_dir.name}-base", ignore_errors=True)
    return out_dir


class RelevanceScorer:
    """P(yes) for (context, candidate) pairs from the int8 ONNX export."""

    def __init__(self, folder: str | Path, *, threads: int | None = 1, batch_size: int = 64):
        self.predictor = Predictor(folder, backend="onnx", threads=threads, batch_size=batch_size)
        if YES not in self.predictor.labels:
            raise ValueError(f"{folder}: not a relevance scorer (labels {self.predictor.labels})")
        self.yes = self.predictor.labels.index(YES)

    def score(self, context: str, candidates: Sequence[str]) -> np.ndarray:
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        return self.predictor.predict_proba([(context, text) for text in candidates])[:, self.yes]
