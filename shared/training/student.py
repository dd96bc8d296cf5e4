"""A shallower student of a fine-tuned classifier, for small devices.

The student keeps the teacher's embeddings, an evenly spaced choice of its layers (the first
and the last among them) and its head, and learns to reproduce the teacher on the training
texts: its pooled features (mean squared error, what the head and a device's later refits read)
and its calibrated answers through the shared, frozen head (KL divergence at temperature 2).
The head staying the teacher's is what keeps the bundle's labels, calibration and threshold valid.
"""
from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path
from typing import Sequence

logger = logging.getLogger(__name__)
DISTILL_TEMPERATURE = 2.0


def kept_layers(total: int, keep: int) -> list[int]:
    """``keep`` evenly spaced layer indices out of ``total``, the first and the last among them."""
    if not 1 <= keep <= total:
        raise ValueError(f"a student keeps between 1 and {total} layers, not {keep}")
    if keep == 1:
        return [total - 1]
    return sorted({round(i * (total - 1) / (keep - 1)) for i in range(keep)})


def _teacher_targets(teacher, tokenizer, texts: Sequence[str], max_length: int, batch_size: int = 64):
    import torch

    features, logits = [], []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")
            pooled = teacher.pooled(**batch)
            features.append(pooled)
            logits.append(teacher.classifier(pooled))
    return torch.cat(features), torch.cat(logits)


def distil_student(teacher_dir: str | Path, texts: Sequence[str], layers: int, out_dir: str | Path, *,
                   max_length: int = 64, epochs: int = 3, learning_rate: float = 1e-4, batch_size: int = 32,
                   seed: int = 42, progress: bool = True) -> dict:
    """Write the student into ``out_dir`` (the teacher's folder layout); what was kept and the final loss."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    import shared.models.pooling  # noqa: F401  (registers the mean-pooled classifiers)

    teacher_dir, out_dir = Path(teacher_dir), Path(out_dir)
    torch.manual_seed(seed)
    teacher = AutoModelForSequenceClassification.from_pretrained(teacher_dir, local_files_only=True).eval()
    if not hasattr(teacher, "pooled"):
        raise ValueError(f"{teacher_dir}: students are made of mean-pooled BERT or MPNet classifiers")
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir, local_files_only=True)
    chosen = kept_layers(teacher.config.num_hidden_layers, layers)
    student = _student_from(teacher, chosen)
    target_features, target_logits = _teacher_targets(teacher, tokenizer, texts, max_length)
    encodings = tokenizer(list(texts), truncation=True, max_length=max_length)
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed))
    steps = max(1, math.ceil(len(texts) / batch_size) * epochs)
    trainable = [p for name, p in student.named_parameters() if not name.startswith("classifier.")]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    student.train()
    loss_value = 0.0
    for step in tqdm(range(steps), desc=f"student ({len(chosen)} layers)", unit="step", disable=not progress):
        start = (step * batch_size) % len(texts)
        idx = order[start:start + batch_size].tolist()
        batch = tokenizer.pad({k: [encodings[k][i] for i in idx] for k in encodings}, return_tensors="pt")
        pooled = student.pooled(**batch)
        logits = student.classifier(pooled)
        t = DISTILL_TEMPERATURE
        kl = torch.nn.functional.kl_div(torch.log_softmax(logits / t, -1), torch.softmax(target_logits[idx] / t, -1),
                                        reduction="batchmean") * t * t
        loss = torch.nn.functional.mse_loss(pooled, target_features[idx]) * pooled.shape[-1] + kl
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        loss_value = float(loss)
    student.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    student.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    for name in ("nlpsuite.json", "metrics.json", "spelling.json"):
        if (teacher_dir / name).is_file():
            shutil.copy2(teacher_dir / name, out_dir / name)
    logger.info("student of %d layers %s distilled on %d texts, %d steps; last loss %.4f",
                len(chosen), chosen, len(texts), steps, loss_value)
    return {"layers": chosen, "texts": len(texts), "steps": steps, "final_loss": round(loss_value, 5)}


def _student_from(teacher, chosen: list[int]):
    """The teacher's architecture with only ``chosen`` layers, each copied from the teacher."""
    import copy

    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(chosen)
    student = type(teacher)(config)
    encoder_name = teacher.base_model_prefix
    teacher_base, student_base = getattr(teacher, encoder_name), getattr(student, encoder_name)
    renamed = {f"encoder.layer.{source}.": f"encoder.layer.{target}." for target, source in enumerate(chosen)}
    state = {}
    for key, value in teacher_base.state_dict().items():
        if key.startswith("encoder.layer."):
            prefix = ".".join(key.split(".")[:3]) + "."
            if prefix not in renamed:
                continue  # a layer the student leaves out
            key = renamed[prefix] + key[len(prefix):]
        state[key] = value  # embeddings, and encoder-wide tensors (MPNet's relative attention bias)
    student_base.load_state_dict(state)
    student.classifier.load_state_dict(teacher.classifier.state_dict())
    for p in student.classifier.parameters():
        p.requires_grad_(False)  # the head stays the teacher's: labels, calibration and threshold hold
    return student
