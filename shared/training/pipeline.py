"""Fine-tune a pretrained encoder with a task head on labelled texts, end to end.

One call goes from labelled data to a deployable folder: the model and tokenizer, a manifest
with the labels and the calibration temperature, metrics.json, plots and a model card.
``finetune`` prepares the data, then hands it to the recipe ``args.recipe`` names
(``shared.training.recipes``). The ``full`` recipe is five named steps, each a function here:
prepare the data, build the Trainer, train, evaluate and calibrate, save; the other recipes
reuse the steps they share with it (calibration and scoring, the folder), so every recipe's
folder has one layout.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    TrainingArguments,
    set_seed,
)

from shared.data import DataError, LabelledTexts, drop_duplicates, stratified_split
from shared.data.augment import add_typo_copies
from shared.data.spelling import SpellingCorrector
from shared.evaluation.calibration import apply_temperature, fit_temperature
from shared.evaluation.model_card import write_model_card
from shared.evaluation.plots import plot_training_curves
from shared.evaluation.report import evaluate_logits
from shared.evaluation.threshold import ThresholdChoice, choose_threshold
from shared.model_dir import METRICS, PLOTS, TENSORBOARD_DIR, ModelInfo
from shared.models import get_head, resolve_model
from shared.training.args import FineTuneArgs
from shared.training.distillation import teacher_logits
from shared.training.distributed import is_main_process, rank_digest_callback, world_size
from shared.training.tensorboard import TensorBoardEvents
from shared.training.trainer import ClassificationTrainer, inverse_frequency_weights, macro_f1_metrics

logger = logging.getLogger(__name__)


@dataclass
class FineTuneResult:
    """What a fine-tuning produced: the folder, its metrics and how long training took."""

    output_dir: Path
    metrics: dict
    validation_metrics: dict
    train_seconds: float
    train_examples_per_s: float
    temperature: float


def data_sha256(data: LabelledTexts) -> str:
    """A digest of the texts and labels, recorded in the manifest: which data made a model."""
    digest = hashlib.sha256()
    for text, label in zip(data.texts, data.labels):
        joined = text if isinstance(text, str) else "\t".join(text)
        digest.update(joined.encode("utf-8") + b"\t" + label.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _as_pair(text) -> tuple[str, str]:
    """A pair head's example: a (first, second) tuple, or one string "first<TAB>second"."""
    if isinstance(text, (tuple, list)):
        return str(text[0]), str(text[1])
    first, _, second = str(text).partition("\t")
    return first, second


class _Encoded(torch.utils.data.Dataset):
    """Tokenised examples, unpadded: the collator pads each batch to its own longest text."""

    def __init__(self, tokenizer, data: LabelledTexts, label_ids: dict[str, int], max_length: int, pairs: bool):
        if pairs:
            firsts, seconds = zip(*(_as_pair(t) for t in data.texts))
            self.encodings = tokenizer(list(firsts), list(seconds), truncation=True, max_length=max_length)
        else:
            self.encodings = tokenizer(list(data.texts), truncation=True, max_length=max_length)
        self.labels = [label_ids[label] for label in data.labels]
        self.teacher_logits = None
        """Set for distillation: one row of teacher logits per example, in label_ids order."""

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        item = {key: values[i] for key, values in self.encodings.items()}
        item["labels"] = self.labels[i]
        if self.teacher_logits is not None:
            item["teacher_logits"] = self.teacher_logits[i].tolist()
        return item


def _check_labels(data: LabelledTexts, known: list[str], what: str) -> None:
    unknown = sorted(set(data.labels) - set(known))
    if unknown:
        first = next(i for i, label in enumerate(data.labels) if label in unknown)
        line = data.lines[first] if data.lines else None
        raise DataError(
            f"{len(unknown)} {what} label(s) not in the training labels: {', '.join(unknown[:10])}",
            path=data.source or None, line=line, field="label",
        )


@dataclass
class _Prepared:
    """The data a fine-tuning trains and is judged on, after every preparation step."""

    train: LabelledTexts
    validation: LabelledTexts
    test: LabelledTexts | None
    labels: list[str]
    duplicates_dropped: int
    spelling: SpellingCorrector | None


def prepare_data(train: LabelledTexts, args: FineTuneArgs, validation: LabelledTexts | None = None,
                 test: LabelledTexts | None = None) -> _Prepared:
    """Step 1: drop exact duplicates, hold out validation data when none is given, record the
    clean vocabulary for spelling correction, add typo copies, check every label is known."""
    train, dropped = drop_duplicates(train)
    if dropped:
        logger.info("dropped %d exact duplicate examples from %s", dropped, train.source)
    if validation is None:
        train, validation = stratified_split(train, args.validation_size, seed=args.seed)
    spelling = SpellingCorrector.from_texts(train.texts) if args.spelling_correction else None  # clean words only
    train = add_typo_copies(train, args.typo_augmentation, seed=args.seed)
    labels = train.label_names
    if len(labels) < 2:
        raise DataError("training data needs at least two labels", path=train.source or None, field="label")
    _check_labels(validation, labels, "validation")
    if test is not None:
        _check_labels(test, labels, "test")
    return _Prepared(train, validation, test, labels, dropped, spelling)


def per_process_batch(batch_size: int, processes: int) -> int:
    """Each data-parallel process's share of a batch of ``batch_size``: the global batch, and
    with it the number of optimiser steps and the learning-rate schedule, stays what one
    process would use, so ``--nproc N`` trains the same model rather than one with an N-times
    larger batch (rounded up when N does not divide the batch)."""
    return max(1, -(-int(batch_size) // max(1, int(processes))))


def _training_arguments(args: FineTuneArgs, checkpoints: Path) -> TrainingArguments:
    per_epoch = args.eval_steps is None
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=per_process_batch(args.batch_size, world_size()),
        per_device_eval_batch_size=args.eval_batch_size,
        warmup_ratio=args.warmup_ratio,
        weight_decay=args.weight_decay,
        optim="adamw_torch",
        lr_scheduler_type="linear",
        eval_strategy="epoch" if per_epoch else "steps",
        save_strategy="no" if not args.keep_best else "epoch" if per_epoch else "steps",
        eval_steps=None if per_epoch else args.eval_steps,
        save_steps=None if per_epoch else args.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=args.keep_best,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        logging_steps=args.logging_steps,
        seed=args.seed,
        data_seed=args.seed,
        group_by_length=True,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        report_to=[],  # TensorBoard through shared.training.tensorboard (no TensorFlow import)
        disable_tqdm=not args.progress,
        save_only_model=True,
        # Keep every dataset key: the Trainer would otherwise drop "teacher_logits" before the
        # loss sees it, since the model's forward() does not take it.
        remove_unused_columns=False,
    )


def build_trainer(data: _Prepared, args: FineTuneArgs, checkpoints: Path, model=None):
    """Step 2: the tokenizer, the model with its head (``model``, or a fresh head on the base),
    the encoded data (with the teacher's logits when distilling) and the Trainer with early
    stopping on validation macro-F1.
    Returns (trainer, tokenizer, encode) where ``encode`` turns more data into a dataset."""
    head = get_head(args.head)
    base_path = resolve_model(args.base)
    tokenizer = AutoTokenizer.from_pretrained(base_path, local_files_only=True)
    model = head.build(base_path, data.labels) if model is None else model
    label_ids = {label: i for i, label in enumerate(data.labels)}
    encode = lambda d: _Encoded(tokenizer, d, label_ids, args.max_length, head.text_pairs)  # noqa: E731
    train_set, validation_set = encode(data.train), encode(data.validation)
    if args.teacher:
        texts = [_as_pair(t) for t in data.train.texts] if head.text_pairs else list(data.train.texts)
        train_set.teacher_logits = teacher_logits(args.teacher, texts, data.labels, threads=args.threads)
    trainer = ClassificationTrainer(
        model=model,
        args=_training_arguments(args, checkpoints),
        train_dataset=train_set,
        eval_dataset=validation_set,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=macro_f1_metrics,
        callbacks=([EarlyStoppingCallback(early_stopping_patience=args.early_stopping_patience)] if args.keep_best
                   else [])
        + ([TensorBoardEvents(checkpoints.parent / TENSORBOARD_DIR)] if args.tensorboard else [])
        + ([rank_digest_callback()] if world_size() > 1 else []),
        class_weights=inverse_frequency_weights(train_set.labels, len(data.labels)) if args.class_weights else None,
        label_smoothing=args.label_smoothing,
        distill_alpha=args.distill_alpha,  # used only when batches carry teacher logits
        distill_temperature=args.distill_temperature,
        head_learning_rate=args.head_learning_rate,
    )
    return trainer, tokenizer, encode


@dataclass
class TrainedModel:
    """What a recipe's training produced, before calibration: the model with its head, how long
    training took, the log for the curves, and recipe facts for the manifest."""

    model: object
    """A transformers sequence-classification model (``save_pretrained`` writes it)."""
    seconds: float
    examples_per_s: float
    log_history: list
    facts: dict


@dataclass
class Scores:
    """Calibration and metrics: the temperature fitted on validation, the test (or validation)
    metrics, and the abstention threshold chosen on the calibrated validation confidences."""

    metrics: dict
    validation: dict
    temperature: float
    threshold: ThresholdChoice


def train_model(trainer) -> TrainedModel:
    """Step 3: train (the best checkpoint is loaded at the end)."""
    started = time.perf_counter()
    # The Trainer prints its logs to stdout (PrinterCallback, tqdm.write); stdout belongs to the
    # caller (the CLI's JSON lines), so training talks on stderr like every progress bar.
    with contextlib.redirect_stdout(sys.stderr):
        output = trainer.train()
    facts = {"epochs_run": round(float(trainer.state.epoch or 0), 2),
             "best_checkpoint_step": _step_of(trainer.state.best_model_checkpoint)}
    return TrainedModel(trainer.model, time.perf_counter() - started,
                        float(output.metrics.get("train_samples_per_second", 0.0)), trainer.state.log_history, facts)


def score_logits(validation: tuple, test: tuple | None, labels: list[str], plot_dir: Path,
                 log_history: list | None = None, wrong_cost: float = 1.0) -> Scores:
    """Fit the temperature on validation (logits, label ids), then metrics and plots on test
    (or on validation when there is no test data); the training curves when there is a log."""
    temperature = fit_temperature(*validation)
    writer = is_main_process()  # under torchrun every rank evaluates (on all rows); rank 0 plots
    validation_metrics = evaluate_logits(*validation, labels, temperature=temperature,
                                         plot_dir=None if test is not None or not writer else plot_dir,
                                         name="validation")
    if test is not None:
        metrics = evaluate_logits(*test, labels, temperature=temperature, plot_dir=plot_dir if writer else None,
                                  name="test")
        metrics["evaluated_on"] = "test"
    else:
        metrics = dict(validation_metrics)
        metrics["evaluated_on"] = "validation"
    if writer and log_history:
        plot_training_curves(log_history, plot_dir / "training_curves.png")
    probabilities = apply_temperature(validation[0], temperature)
    threshold = choose_threshold(probabilities.max(axis=1), probabilities.argmax(axis=1) == np.asarray(validation[1]),
                                 wrong_cost=wrong_cost)
    return Scores(metrics, validation_metrics, temperature, threshold)


def evaluate_and_calibrate(trainer, encode, data: _Prepared, plot_dir: Path, wrong_cost: float = 1.0) -> Scores:
    """Step 4: fit the temperature on validation logits, then metrics and plots on the test
    data (or on validation when there is no test data)."""
    # With group_by_length the Trainer also reorders evaluation batches, so logits are
    # paired with the label_ids it returns, never with the dataset's own order.
    validation_out = trainer.predict(trainer.eval_dataset)
    test_out = trainer.predict(encode(data.test)) if data.test is not None else None
    return score_logits((validation_out.predictions, validation_out.label_ids),
                        (test_out.predictions, test_out.label_ids) if test_out is not None else None,
                        data.labels, plot_dir, trainer.state.log_history, wrong_cost)


def save_folder(output_dir: Path, trained: TrainedModel, tokenizer, data: _Prepared, args: FineTuneArgs,
                scores: Scores) -> dict:
    """Step 5: the model, tokenizer, manifest (labels, temperature, spelling vocabulary,
    hyperparameters, the recipe), metrics.json and the model card; checkpoints removed. The full metrics."""
    import json

    trained.model.save_pretrained(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    hyperparameters = args.to_dict() | {
        "train_examples": len(data.train),
        "validation_examples": len(data.validation),
        "duplicates_dropped": data.duplicates_dropped,
        "fallback_threshold": scores.threshold.to_dict(),
    } | trained.facts
    info = ModelInfo(
        labels=data.labels,
        head=args.head,
        base_model=str(args.base),
        max_length=args.max_length,
        temperature=scores.temperature,
        confidence_threshold=scores.threshold.threshold,
        data_sha256=data_sha256(data.train),
        recipe=args.recipe,
        hyperparameters=hyperparameters,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        spelling_file=data.spelling.save(output_dir).name if data.spelling else None,
    )
    info.save(output_dir)
    metrics = scores.metrics | {
        "recipe": args.recipe,
        "validation": {k: scores.validation[k] for k in ("accuracy", "macro_f1", "ece", "n_examples")},
        "train_seconds": round(trained.seconds, 2),
        "train_examples_per_s": round(trained.examples_per_s, 2),
        "threads": torch.get_num_threads(),
        "log_history": trained.log_history,
    }
    (output_dir / METRICS).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_model_card(output_dir, info, metrics)
    return metrics


def finetune(
    train: LabelledTexts,
    args: FineTuneArgs,
    output_dir: str | Path,
    *,
    validation: LabelledTexts | None = None,
    test: LabelledTexts | None = None,
) -> FineTuneResult:
    """Prepare the data, then train, calibrate, evaluate and save with ``args.recipe``.

    Without ``validation``, ``args.validation_size`` of ``train`` is held out (stratified).
    Metrics in metrics.json are on ``test`` when given, else on the validation set.
    With ``args.teacher``, the loss also pulls the model towards that fine-tuned folder's
    calibrated predictions on ``train`` (``shared.training.distillation``).
    """
    from shared.training.recipes import get_recipe

    recipe = get_recipe(args.recipe)  # an unknown name fails before any work
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    set_seed(args.seed)
    data = prepare_data(train, args, validation, test)
    return recipe(data, args, output_dir)


def finish_with_trainer(trainer, tokenizer, encode, data: _Prepared, args: FineTuneArgs,
                        output_dir: Path, facts: dict | None = None) -> FineTuneResult:
    """Steps 3-5 for the recipes that train with the Trainer (full, lp-ft): train, calibrate and
    score, and (rank 0) save the folder. ``facts``: more for the manifest (the probe stage's)."""
    trained = train_model(trainer)
    trained.facts |= facts or {}
    scores = evaluate_and_calibrate(trainer, encode, data, output_dir / PLOTS, args.wrong_cost)
    if not is_main_process():  # rank 0 writes the folder; the others are done
        trainer.accelerator.wait_for_everyone()
        return FineTuneResult(output_dir, scores.metrics, scores.validation, trained.seconds,
                              trained.examples_per_s, scores.temperature)
    result = save_result(output_dir, trained, tokenizer, data, args, scores)
    trainer.accelerator.wait_for_everyone()
    return result


def save_result(output_dir: Path, trained: TrainedModel, tokenizer, data: _Prepared, args: FineTuneArgs,
                scores: Scores) -> FineTuneResult:
    """Save the folder (step 5) and say so; what ``finetune`` returns."""
    metrics = save_folder(output_dir, trained, tokenizer, data, args, scores)
    logger.info("saved %s (%s recipe): %s accuracy %.4f, macro-F1 %.4f", output_dir, args.recipe,
                metrics["evaluated_on"], metrics["accuracy"], metrics["macro_f1"])
    return FineTuneResult(output_dir, metrics, scores.validation, trained.seconds, trained.examples_per_s,
                          scores.temperature)


def _step_of(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    try:
        return int(Path(checkpoint).name.rsplit("-", 1)[-1])
    except ValueError:
        return None
