"""Task heads, registered by name and built from a pretrained encoder folder.

A head decides what the model outputs and what one input is: a single text for sequence
classification (intents, sentiment), a pair of texts for the relevance scorer the
recommender trains (a cross-encoder: the user's recent items and a candidate). The trainer,
the evaluator and the exporters only see a Hugging Face sequence-classification model, so a
new head plugs in here without touching them. Bi-encoders are not heads: they are
sentence-transformers models and live with the recommender's embedding code.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from shared.registry import Registry

HEADS: "Registry[TaskHead]" = Registry("task head", "nlpsuite.heads")
"""Task heads by name (``FineTuneArgs.head``); packages may add their own (entry points)."""


@dataclass(frozen=True)
class TaskHead:
    """How a task turns an encoder into a classifier: the model it builds and whether inputs are text pairs."""

    name: str
    description: str
    text_pairs: bool
    build: Callable[..., object]
    """``build(base_path, labels, **config)``: the model; ``config`` goes into its model config
    (``normalize_pooled=True``: unit-length features, for heads fitted on them)."""


def register_head(name: str, *, description: str, text_pairs: bool = False):
    """Make a head available by name (``FineTuneArgs.head``)."""
    def wrap(build):
        HEADS.register(name, TaskHead(name, description, text_pairs, build))
        return build

    return wrap


def get_head(name: str) -> TaskHead:
    """The head registered as ``name``; an unknown name lists the known ones."""
    return HEADS.get(name)


def build_head(name: str, base_path: Path, labels: list[str], **config):
    """A freshly initialised head on top of the pretrained encoder in ``base_path``."""
    return get_head(name).build(Path(base_path), list(labels), **config)


@contextlib.contextmanager
def _expected_new_head():
    """transformers warns that the head's weights are newly initialised and that a BERT folder
    becomes a mean-pooled model type: both are the point of building a head, not news for a user."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def _label_kwargs(labels: list[str]) -> dict:
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
        "problem_type": "single_label_classification",
    }


def _classifier(base_path: Path, labels: list[str], **config):
    """The stock Hugging Face head on the [CLS] token (what cross-encoders are trained with)."""
    from transformers import AutoModelForSequenceClassification

    with _expected_new_head():
        return AutoModelForSequenceClassification.from_pretrained(
            base_path, local_files_only=True, **_label_kwargs(labels), **config
        )


def _mean_pooled_classifier(base_path: Path, labels: list[str], **config):
    """Mean pooling for BERT and MPNet encoders (see shared.models.pooling); others get [CLS]."""
    import json

    from transformers import AutoModelForSequenceClassification

    from shared.models.pooling import MEAN_POOL_CONFIGS

    model_type = json.loads((Path(base_path) / "config.json").read_text()).get("model_type")
    if model_type not in MEAN_POOL_CONFIGS:
        return _classifier(base_path, labels, **config)
    config_class = MEAN_POOL_CONFIGS[model_type]
    with _expected_new_head():
        model_config = config_class.from_pretrained(base_path, local_files_only=True, **_label_kwargs(labels), **config)
        return AutoModelForSequenceClassification.from_pretrained(base_path, config=model_config, local_files_only=True)


register_head(
    "sequence-classification",
    description="one text in, a softmax over the labels out (intents, sentiment, topics); "
    "mean-pooled for BERT and MPNet encoders",
)(_mean_pooled_classifier)

register_head(
    "pair-classification",
    description="a (query, candidate) text pair in, a softmax over the labels out "
    "(the recommender's cross-encoder relevance scorer: labels no/yes)",
    text_pairs=True,
)(_classifier)
