"""Four ways from a pretrained encoder to a classifier, one folder layout for all of them.

A recipe takes the prepared data (``shared.training.pipeline.prepare_data``) and writes the
folder ``finetune`` promises: weights, tokenizer, manifest, calibration, metrics, plots, card.
So ``nlpsuite export``, the ``Predictor`` and every product serve any recipe's folder alike.

- ``full``: a new head and every weight trained with the Trainer (the pipeline's five steps).
- ``probe``: the encoder stays frozen; scikit-learn fits a multinomial logistic head on its
  unit-length mean-pooled features. Seconds instead of minutes, and on BANKING77 as good as
  a full fine-tune, because all-MiniLM-L6-v2 was contrastively trained to separate such texts.
- ``lp-ft``: the probe's head initialises a full fine-tune (Kumar et al. 2022, "Fine-Tuning can
  Distort Pretrained Features"): a random head's large early gradients would distort the
  pretrained features; a head that already fits lets a small encoder rate refine them.
- ``contrastive``: SetFit (Tunstall et al. 2022): sentence pairs of the same label pulled
  together, of different labels apart (sentence-transformers' ``CosineSimilarityLoss``), then the
  probe's logistic head on the tuned encoder.

Recipes are a registry (``shared.registry``): a package may add its own (``nlpsuite.recipes``).
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from shared.data import DataError
from shared.model_dir import PLOTS
from shared.registry import Registry
from shared.training.args import FineTuneArgs
from shared.training.pipeline import (
    FineTuneResult,
    TrainedModel,
    _Prepared,
    build_trainer,
    finish_with_trainer,
    save_result,
    score_logits,
)

logger = logging.getLogger(__name__)

Recipe = Callable[[_Prepared, FineTuneArgs, Path], FineTuneResult]
RECIPES: "Registry[Recipe]" = Registry("fine-tuning recipe", "nlpsuite.recipes")
"""Recipes by name (``FineTuneArgs.recipe``, ``nlpsuite finetune --recipe``)."""


def get_recipe(name: str) -> Recipe:
    """The recipe registered as ``name``; an unknown name lists the known ones."""
    return RECIPES.get(name)


@RECIPES.register("full")
def full(data: _Prepared, args: FineTuneArgs, output_dir: Path) -> FineTuneResult:
    """A fresh head on the encoder, everything trained (the pipeline's steps 2-5)."""
    trainer, tokenizer, encode = build_trainer(data, args, output_dir / "checkpoints")
    return finish_with_trainer(trainer, tokenizer, encode, data, args, output_dir)


class LogisticHead:
    """A multinomial logistic regression on features, as the head's weight and bias."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, iterations: int, seconds: float):
        self.weight, self.bias, self.iterations, self.seconds = weight, bias, iterations, seconds

    @classmethod
    def fit(cls, features: np.ndarray, label_ids: np.ndarray, n_labels: int, *, c: float, max_iter: int,
            seed: int) -> "LogisticHead":
        """scikit-learn's L-BFGS fit; labels missing from ``label_ids`` get a row of zeros and a
        bias far below the rest, so the head's shape always matches the label list."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        started = time.perf_counter()
        model = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the iteration count is recorded instead
            model.fit(features, label_ids)
        weight = np.zeros((n_labels, features.shape[1]), dtype=np.float32)
        bias = np.full(n_labels, -30.0, dtype=np.float32)
        classes = model.classes_.astype(int)
        if len(classes) == 2:  # scikit-learn's binary form: one row for class 1 against class 0
            weight[classes[1]], bias[classes[1]] = model.coef_[0] / 2, model.intercept_[0] / 2
            weight[classes[0]], bias[classes[0]] = -model.coef_[0] / 2, -model.intercept_[0] / 2
        else:
            weight[classes], bias[classes] = model.coef_, model.intercept_
        return cls(weight, bias, int(np.max(model.n_iter_)), time.perf_counter() - started)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """What the served model's linear layer computes from these features."""
        return features @ self.weight.T + self.bias


def _check_single_texts(args: FineTuneArgs) -> None:
    from shared.models import get_head

    if get_head(args.head).text_pairs:
        raise DataError(f"the {args.recipe} recipe fits its head on single-text features; "
                        f"head {args.head!r} takes text pairs: use --recipe full")


def _label_ids(data: _Prepared, split) -> np.ndarray:
    index = {label: i for i, label in enumerate(data.labels)}
    return np.array([index[label] for label in split.labels], dtype=np.int64)


@dataclass
class Probe:
    """A fitted logistic head with the features it was fitted and scored on."""

    head: LogisticHead
    features: dict
    """Features by split name (train, validation, test when there is test data)."""
    embed_seconds: float

    @property
    def seconds(self) -> float:
        return self.embed_seconds + self.head.seconds


def fit_probe(data: _Prepared, args: FineTuneArgs, feature_graphs: Path, precision: str) -> Probe:
    """Embed every split with a frozen encoder's feature graphs (``shared.export.features``)
    and fit the logistic head on the training features."""
    from shared.inference.features import FeatureEncoder

    if precision not in ("int8", "fp32"):
        raise DataError(f"probe_features: {precision!r} is neither int8 nor fp32", field="probe_features")
    started = time.perf_counter()
    encoder = FeatureEncoder(feature_graphs, precision=precision, threads=args.threads, max_length=args.max_length)
    splits = {"train": data.train, "validation": data.validation} | ({"test": data.test} if data.test else {})
    features = {name: encoder.encode(split.texts, progress=args.progress, description=f"{precision} features: {name}")
                for name, split in splits.items()}
    embed_seconds = time.perf_counter() - started
    head = LogisticHead.fit(features["train"], _label_ids(data, data.train), len(data.labels), c=args.probe_c,
                            max_iter=args.probe_max_iter, seed=args.seed)
    logger.info("probe: %s features in %.1f s, logistic head (C=%g) in %.1f s, %d iterations", precision,
                embed_seconds, args.probe_c, head.seconds, head.iterations)
    return Probe(head, features, embed_seconds)


def model_with_head(encoder: str | Path, labels: list[str], head: LogisticHead):
    """The mean-pooled classifier on ``encoder`` with unit-length features and ``head`` as its layer."""
    import torch

    from shared.models import build_head, resolve_model

    model = build_head("sequence-classification", resolve_model(encoder), labels, normalize_pooled=True)
    if not getattr(model.config, "normalize_pooled", False):
        raise DataError(f"{encoder}: probe heads need a BERT or MPNet encoder (mean pooling)", field="base")
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(head.weight))
        model.classifier.bias.copy_(torch.from_numpy(head.bias))
    return model.eval()


def _probe_onto(data: _Prepared, args: FineTuneArgs, output_dir: Path, encoder: str | Path, feature_graphs: Path,
                precision: str, extra_seconds: float = 0.0, facts: dict | None = None) -> FineTuneResult:
    """Fit the probe on ``encoder``'s features, calibrate and score its logits, save the folder."""
    from transformers import AutoTokenizer

    from shared.models import resolve_model

    probe = fit_probe(data, args, feature_graphs, precision)
    validation = (probe.head.logits(probe.features["validation"]), _label_ids(data, data.validation))
    test = (probe.head.logits(probe.features["test"]), _label_ids(data, data.test)) if data.test is not None else None
    scores = score_logits(validation, test, data.labels, output_dir / PLOTS, wrong_cost=args.wrong_cost)
    seconds = probe.seconds + extra_seconds
    trained = TrainedModel(model_with_head(encoder, data.labels, probe.head), seconds,
                           len(data.train) / max(seconds, 1e-9), [],
                           {"probe_iterations": probe.head.iterations, "probe_features_used": precision,
                            "probe_seconds": round(probe.seconds, 2)} | (facts or {}))
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(encoder), local_files_only=True)
    return save_result(output_dir, trained, tokenizer, data, args, scores)


@RECIPES.register("probe")
def probe(data: _Prepared, args: FineTuneArgs, output_dir: Path) -> FineTuneResult:
    """Frozen features of the base encoder (``args.probe_features``) and a logistic head."""
    from shared.export.features import cached_base_features

    _check_single_texts(args)
    return _probe_onto(data, args, output_dir, args.base, cached_base_features(args.base), args.probe_features)


@RECIPES.register("lp-ft")
def lp_ft(data: _Prepared, args: FineTuneArgs, output_dir: Path) -> FineTuneResult:
    """The probe's head (fitted on fp32 features) starts a full fine-tune of every weight."""
    from shared.export.features import cached_base_features

    _check_single_texts(args)
    probe = fit_probe(data, args, cached_base_features(args.base), "fp32")
    model = model_with_head(args.base, data.labels, probe.head)
    trainer, tokenizer, encode = build_trainer(data, args, output_dir / "checkpoints", model=model)
    result = finish_with_trainer(trainer, tokenizer, encode, data, args, output_dir,
                                 facts={"probe_iterations": probe.head.iterations,
                                        "probe_seconds": round(probe.seconds, 2)})
    result.train_seconds += probe.seconds
    return result


@RECIPES.register("contrastive")
def contrastive(data: _Prepared, args: FineTuneArgs, output_dir: Path) -> FineTuneResult:
    """SetFit: a pair stage tunes the encoder (kept in the folder), then the probe's head on it."""
    from shared.export.features import export_features
    from shared.training.pairs import train_on_pairs

    _check_single_texts(args)
    with tempfile.TemporaryDirectory(prefix="nlpsuite-contrastive-") as tmp:
        started = time.perf_counter()
        encoder = Path(tmp) / "encoder"
        pairs = train_on_pairs(data.train, args, encoder)
        graphs = export_features(encoder, Path(tmp) / "features", int8=False)
        pair_seconds = time.perf_counter() - started
        return _probe_onto(data, args, output_dir, encoder, graphs, "fp32", extra_seconds=pair_seconds,
                           facts={"contrastive_pairs_drawn": pairs, "pair_stage_seconds": round(pair_seconds, 2)})
