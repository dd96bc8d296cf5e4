"""Fine-tuning hyperparameters as one documented dataclass (the SetFit way)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class FineTuneArgs:
    """Everything that decides how a classifier is fine-tuned.

    Defaults suit MiniLM-L6 on short texts on a 2-core CPU; the benchmark profiles in
    ``bench/core.py`` record the values behind each published figure.
    """

    base: str = "minilm-l6"
    """Registered model name (``nlpsuite models``) or a local Hugging Face folder."""
    head: str = "sequence-classification"
    """Task head name (see ``shared.models.heads``)."""
    epochs: float = 5.0
    """Upper bound on passes over the training data; early stopping may end sooner."""
    learning_rate: float = 5e-5
    """Peak AdamW learning rate, reached after warm-up, then decayed linearly."""
    batch_size: int = 32
    eval_batch_size: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 64
    """Longer inputs are truncated; batches are padded only to their longest text."""
    class_weights: bool = False
    """Weight the loss by inverse class frequency (for skewed labels such as sentiment)."""
    label_smoothing: float = 0.0
    typo_augmentation: float = 0.0
    """Share of the training examples added once more with seeded typos (swapped, dropped,
    doubled letters, neighbouring keys), so misspelt messages are still understood; validation
    and test data stay as they are. 0 adds none."""
    spelling_correction: bool = False
    """Save the training vocabulary in the model folder, so the served model maps a message's
    unknown words to the nearest training word one edit away before classifying it
    (``shared.data.spelling``). Complements ``typo_augmentation``: augmentation teaches the
    model misspelt word pieces, correction removes most misspellings before it sees them."""
    teacher: str | None = None
    """A fine-tuned model folder (any base, same labels) to distil from; None trains on the
    labels alone. Its logits on the training texts become soft targets (see ``distillation``)."""
    distill_alpha: float = 0.5
    """Weight of the hard-label cross-entropy; the rest goes to matching the teacher."""
    distill_temperature: float = 2.0
    """Softmax temperature of the soft targets: higher shows more of the teacher's runner-ups."""
    seed: int = 42
    threads: int | None = None
    """torch intra-op threads; None keeps torch's default (all cores)."""
    early_stopping_patience: int = 2
    """Evaluations without a validation macro-F1 gain before training stops."""
    validation_size: float = 0.1
    """Share of the training data held out for early stopping and calibration when no
    validation file is given."""
    max_steps: int = -1
    """Stop after this many optimiser steps (overrides epochs when > 0)."""
    eval_steps: int | None = None
    """Evaluate every N steps instead of every epoch."""
    logging_steps: int = 20
    progress: bool = True
    """Show tqdm progress bars."""

    def to_dict(self) -> dict:
        return asdict(self)
