"""Knowledge distillation: a small student learns from a larger fine-tuned teacher's logits.

Why: the teacher's full distribution over labels says which wrong labels are nearly right
(BANKING77's 77 intents overlap a lot), which a one-hot label cannot. The student keeps its own
size and speed; only training changes. The loss is Hinton et al.'s: a mix of cross-entropy on
the hard labels and the KL divergence to the teacher's temperature-softened distribution,
scaled by T² so that its gradients keep their size whatever the temperature.

The teacher runs once over the training texts before training (its logits are stored with
each example), not at every step: on a CPU the teacher's forward pass costs as much as the
student's whole training step.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from shared.data import DataError

logger = logging.getLogger(__name__)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    labels: torch.Tensor,
    *,
    alpha: float,
    temperature: float,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """``alpha`` · CE(student, labels) + (1 − ``alpha``) · T² · KL(teacher_T ‖ student_T).

    Without teacher logits (evaluation batches, or no teacher at all) it is the plain
    cross-entropy, so the trainer has one loss for every batch.
    """
    hard = torch.nn.functional.cross_entropy(student_logits, labels, weight=weight, label_smoothing=label_smoothing)
    if teacher_logits is None or alpha >= 1.0:
        return hard
    t = float(temperature)
    soft = torch.nn.functional.kl_div(
        torch.nn.functional.log_softmax(student_logits / t, dim=-1),
        torch.nn.functional.log_softmax(teacher_logits.to(student_logits.dtype) / t, dim=-1),
        reduction="batchmean",
        log_target=True,
    ) * (t * t)
    return alpha * hard + (1.0 - alpha) * soft


def teacher_logits(teacher_dir: str | Path, texts: list, labels: list[str], *, threads: int | None = None,
                   batch_size: int = 64) -> np.ndarray:
    """The teacher's calibrated logits for ``texts``, columns in the student's ``labels`` order.

    Calibrated means divided by the temperature that ``finetune`` fitted on the teacher's
    validation data, so that softmax gives probabilities that mean what they say: a teacher
    stopped early is often far less confident than it is right, and its raw soft targets would
    teach the student to hedge. The teacher may have its own tokenizer (another model family);
    it must know exactly the student's labels, else the soft targets would mean something else.
    """
    from shared.inference import Predictor

    teacher = Predictor(teacher_dir, "torch", threads=threads, batch_size=batch_size)
    if sorted(teacher.labels) != sorted(labels):
        missing = sorted(set(labels) - set(teacher.labels))
        extra = sorted(set(teacher.labels) - set(labels))
        raise DataError(
            f"teacher was trained on other labels (missing: {', '.join(missing[:10]) or '-'}; "
            f"extra: {', '.join(extra[:10]) or '-'})",
            path=str(teacher_dir), field="labels",
        )
    logger.info("teacher %s: logits for %d training texts", teacher_dir, len(texts))
    logits = _batched_with_progress(teacher, texts, batch_size)
    order = [teacher.labels.index(label) for label in labels]
    return logits[:, order] / float(teacher.info.temperature or 1.0)


def _batched_with_progress(teacher, texts: list, batch_size: int) -> np.ndarray:
    from tqdm.auto import tqdm

    chunk = batch_size * 16
    parts = [teacher.logits(texts[i:i + chunk])
             for i in tqdm(range(0, len(texts), chunk), desc="teacher logits", unit="chunk")]
    return np.concatenate(parts) if parts else np.zeros((0, len(teacher.labels)), dtype=np.float32)
