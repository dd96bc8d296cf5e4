"""A transformers Trainer subclass that adds class weights, label smoothing and distillation
to the loss, and a learning rate of its own for the task head (the lp-ft recipe).

Everything else (AdamW, warm-up and linear decay, evaluation, checkpoints, early stopping,
progress bars) is the stock Trainer, configured in ``shared.training.pipeline`` (``build_trainer``).
"""
from __future__ import annotations

import numpy as np
import torch
from transformers import Trainer

from shared.training.distillation import distillation_loss


HEAD_PREFIX = "classifier."
"""Parameter names of the task head in every classifier the heads build (shared.models.heads)."""


class ClassificationTrainer(Trainer):
    """transformers' Trainer with class weights, label smoothing and distillation in the loss,
    and ``head_learning_rate`` for the head's parameters (None: the encoder's rate)."""

    def __init__(self, *args, class_weights: torch.Tensor | None = None, label_smoothing: float = 0.0,
                 distill_alpha: float = 1.0, distill_temperature: float = 1.0,
                 head_learning_rate: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.label_smoothing = label_smoothing
        self.distill_alpha = distill_alpha
        self.distill_temperature = distill_temperature
        self.head_learning_rate = head_learning_rate

    def create_optimizer(self):
        """The stock AdamW groups (weight decay or not), each split into encoder and head, the
        head's at ``head_learning_rate``; the scheduler's warm-up and decay scale both alike."""
        if self.head_learning_rate is None or self.optimizer is not None:
            return super().create_optimizer()
        decayed = set(self.get_decay_parameter_names(self.model))
        groups = []
        for is_head in (False, True):
            for decay in (True, False):
                params = [p for name, p in self.model.named_parameters()
                          if p.requires_grad and name.startswith(HEAD_PREFIX) == is_head and (name in decayed) == decay]
                if params:
                    groups.append({"params": params, "weight_decay": self.args.weight_decay if decay else 0.0}
                                  | ({"lr": self.head_learning_rate} if is_head else {}))
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, self.model)
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Cross-entropy on the labels; with teacher logits in the batch, blended with matching the teacher."""
        labels = inputs.pop("labels")
        # Training batches carry the teacher's logits when distilling; evaluation batches do not.
        teacher = inputs.pop("teacher_logits", None)
        outputs = model(**inputs)
        logits = outputs.logits
        weight = None if self.class_weights is None else self.class_weights.to(logits.device, logits.dtype)
        loss = distillation_loss(logits, teacher, labels, alpha=self.distill_alpha,
                                 temperature=self.distill_temperature, weight=weight,
                                 label_smoothing=self.label_smoothing)
        return (loss, outputs) if return_outputs else loss


def inverse_frequency_weights(label_ids: list[int], n_labels: int) -> torch.Tensor:
    """Weights n / (k * count) so that each class contributes equally to the loss."""
    counts = np.bincount(np.asarray(label_ids), minlength=n_labels).astype(np.float64)
    weights = len(label_ids) / (n_labels * np.clip(counts, 1, None))
    return torch.tensor(weights, dtype=torch.float32)


def macro_f1_metrics(eval_pred) -> dict:
    """compute_metrics for the Trainer: the early-stopping criterion and accuracy."""
    from sklearn.metrics import accuracy_score, f1_score

    logits, labels = eval_pred
    predicted = np.asarray(logits).argmax(axis=-1)
    return {
        "macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(labels, predicted)),
    }
