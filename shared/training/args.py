"""Fine-tuning hyperparameters as one documented dataclass, declared once.

Each field carries its help text in ``field(metadata=...)`` (as sentence-transformers'
training arguments do). The ``nlpsuite finetune`` options (``add_cli_options``), the Rasa
component's config (``FineTuneArgs.from_mapping``) and the products' profiles all derive from
it, so a new argument is added here and nowhere else.
"""
from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, Iterable, Mapping

from shared.arguments import add_options, convert, help_of, values_from_options
from shared.arguments import arg as _arg


@dataclass
class FineTuneArgs:
    """Everything that decides how a classifier is fine-tuned.

    Defaults suit MiniLM-L6 on short texts on a 2-core CPU; the benchmark profiles in
    ``bench/core.py`` record the values behind each published figure. Each field's help text
    is in its metadata (``FineTuneArgs.help(name)``, ``nlpsuite finetune --help``).
    """

    base: str = _arg("minilm-l6", "registered model name (`nlpsuite models`) or a local Hugging Face folder")
    recipe: str = _arg(
        "full", "how the encoder becomes a classifier (shared.training.recipes): full (fine-tune everything "
                "with a new head), probe (frozen features, a logistic head fitted by scikit-learn: seconds), "
                "lp-ft (the probe's head, then a full fine-tune from it: Kumar et al. 2022), contrastive "
                "(SetFit: sentence pairs pull the encoder's features apart by label, then a logistic head)")
    head: str = _arg("sequence-classification", "task head name (see shared.models.heads)")
    epochs: float = _arg(5.0, "upper bound on passes over the training data; early stopping may end sooner")
    learning_rate: float = _arg(5e-5, "peak AdamW learning rate, reached after warm-up, then decayed linearly",
                                flags=("--lr", "--learning-rate"))
    head_learning_rate: float | None = _arg(
        None, "peak learning rate of the task head alone (lp-ft starts it from the probe, so it can move "
              "faster than the encoder); none: --lr for the head too", flags=("--head-lr", "--head-learning-rate"))
    batch_size: int = _arg(32, "training batch size")
    eval_batch_size: int = _arg(128, "batch size for evaluation and prediction")
    warmup_ratio: float = _arg(0.1, "share of the optimiser steps spent warming up the learning rate",
                               flags=("--warmup", "--warmup-ratio"))
    weight_decay: float = _arg(0.01, "AdamW weight decay")
    max_length: int = _arg(64, "longer inputs are truncated (in tokens); batches are padded only to their longest text")
    class_weights: bool = _arg(False, "weight the loss by inverse class frequency (for skewed labels such as sentiment)")
    label_smoothing: float = _arg(0.0, "label smoothing of the cross-entropy (0: none)")
    typo_augmentation: float = _arg(
        0.0, "share of the training examples added once more with seeded typos (swapped, dropped, doubled "
             "letters, neighbouring keys), so misspelt messages are still understood; validation and test "
             "data stay as they are; 0 adds none")
    spelling_correction: bool = _arg(
        False, "save the training vocabulary in the model folder, so the served model maps a message's unknown "
               "words to the nearest training word one edit away before classifying it (shared.data.spelling); "
               "complements typo augmentation")
    teacher: str | None = _arg(
        None, "a fine-tuned model folder (any base, same labels) to distil from; its logits on the training "
              "texts become soft targets (shared.training.distillation); none: the labels alone")
    distill_alpha: float = _arg(0.5, "weight of the hard-label cross-entropy when distilling; the rest matches the teacher")
    distill_temperature: float = _arg(2.0, "softmax temperature of the soft targets: higher shows more of the "
                                           "teacher's runner-ups")
    probe_c: float = _arg(10.0, "inverse L2 strength of the probe's logistic head (scikit-learn's C) for the "
                                "probe, lp-ft and contrastive recipes; larger fits the training data closer")
    probe_features: str = _arg(
        "int8", "features the probe recipe fits its head on: int8 (the quantized graph the served model runs, "
                "so the head sees exactly what serving computes; about 1.7x faster to embed) or fp32; lp-ft "
                "and contrastive always use fp32, since their fine-tune starts from fp32 weights")
    probe_max_iter: int = _arg(500, "L-BFGS iterations of the logistic head's fit")
    contrastive_pairs: int = _arg(
        2, "contrastive recipe: sentence pairs drawn per training example and epoch, half with the same "
           "label (pulled together), half with another (pushed apart), as SetFit draws them")
    contrastive_epochs: float = _arg(1.0, "contrastive recipe: passes over the drawn pairs")
    contrastive_learning_rate: float = _arg(2e-5, "contrastive recipe: peak learning rate of the pair stage")
    wrong_cost: float = _arg(
        1.0, "what a wrong answer costs against a correct one when the abstention threshold is chosen on "
             "validation data (shared.evaluation.threshold): 1 abstains wherever an answer is as likely wrong "
             "as right; lower answers more (a product that declines unknown requests with a class of their own)")
    seed: int = _arg(42, "seed of every random choice (splits, augmentation, initialisation, data order)")
    threads: int | None = _arg(None, "torch intra-op threads; none keeps torch's default (all cores)")
    early_stopping_patience: int = _arg(2, "evaluations without a validation macro-F1 gain before training stops",
                                        flags=("--patience", "--early-stopping-patience"))
    keep_best: bool = _arg(
        True, "end with the checkpoint of the best validation macro-F1 (with early stopping); off: train "
              "every epoch and keep the last, whose learning rate has decayed to zero (for short schedules, "
              "where a small validation set picks among epochs by noise)", flags=("--no-keep-best",))
    validation_size: float = _arg(0.1, "share of the training data held out for early stopping and calibration "
                                       "when no validation file is given")
    max_steps: int = _arg(-1, "stop after this many optimiser steps (overrides epochs when > 0)")
    eval_steps: int | None = _arg(None, "evaluate every N steps instead of every epoch")
    logging_steps: int = _arg(20, "log the training loss every N steps")
    progress: bool = _arg(True, "show tqdm progress bars", flags=("--no-progress",))
    tensorboard: bool = _arg(True, "write TensorBoard event files under <out>/runs (rank 0 only under --nproc)",
                             flags=("--no-tensorboard",))

    def to_dict(self) -> dict:
        """Every argument by name, as recorded in the model folder's manifest."""
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        """Every hyperparameter's name, in declaration order."""
        return [f.name for f in fields(cls)]

    @classmethod
    def help(cls, name: str) -> str:
        """The help text of the argument ``name``."""
        return help_of(cls, name)

    @classmethod
    def defaults(cls, **overrides) -> dict:
        """Name -> default value, with ``overrides`` (for configs that start from other defaults)."""
        values = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        unknown = set(overrides) - set(values)
        if unknown:
            raise TypeError(f"not fine-tuning arguments: {', '.join(sorted(unknown))}")
        return values | overrides

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], **overrides) -> "FineTuneArgs":
        """The arguments named in ``values`` (a config section that may hold other keys too),
        converted to each field's type, then ``overrides``."""
        from shared.config import ConfigError

        chosen = {}
        for f in fields(cls):
            if f.name in values and values[f.name] is not None:
                try:
                    chosen[f.name] = convert(f.type, values[f.name])
                except (TypeError, ValueError):
                    raise ConfigError(f"fine-tuning argument {f.name!r}: {values[f.name]!r} is not "
                                      f"a {f.type.replace(' | None', '')}") from None
        return cls(**(chosen | overrides))


def add_cli_options(parser: argparse.ArgumentParser, *, exclude: Iterable[str] = ()) -> None:
    """One option per field of ``FineTuneArgs`` (its help text and default shown)."""
    add_options(parser, FineTuneArgs, title="fine-tuning hyperparameters (shared.training.FineTuneArgs)",
                exclude=exclude)


def from_cli_options(options: argparse.Namespace, **overrides) -> FineTuneArgs:
    """The ``FineTuneArgs`` that ``add_cli_options`` options parsed into."""
    return FineTuneArgs(**(values_from_options(FineTuneArgs, options) | overrides))
