"""The contrastive recipe's pair stage (SetFit): tune a sentence encoder on labelled pairs.

For each training example, ``contrastive_pairs`` partners are drawn: alternately one with the
same label (target cosine 1) and one with another label (target 0), the other label chosen
uniformly so that small classes are pushed apart as often as big ones. sentence-transformers'
``CosineSimilarityLoss`` does the learning; the loop around it is a plain AdamW with linear
warm-up and decay, because sentence-transformers' own trainer needs the ``datasets`` package,
which this environment does not carry.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from pathlib import Path

from shared.data import LabelledTexts
from shared.training.args import FineTuneArgs


def draw_pairs(data: LabelledTexts, per_example: int, seed: int) -> list[tuple[str, str, float]]:
    """(text, partner, 1.0 if same label else 0.0), shuffled; no text is paired with itself."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(data.labels):
        by_label[label].append(i)
    labels = sorted(by_label)
    pairs = []
    for i, label in enumerate(data.labels):
        for k in range(per_example):
            same = by_label[label]
            if k % 2 == 0 and len(same) > 1:
                j = rng.choice(same)
                while j == i:
                    j = rng.choice(same)
                pairs.append((data.texts[i], data.texts[j], 1.0))
            else:
                other = rng.choice([name for name in labels if name != label])
                pairs.append((data.texts[i], data.texts[rng.choice(by_label[other])], 0.0))
    rng.shuffle(pairs)
    return pairs


def train_on_pairs(data: LabelledTexts, args: FineTuneArgs, out_dir: Path) -> int:
    """Tune ``args.base`` on pairs drawn from ``data`` and save it as a sentence-transformers
    folder in ``out_dir``; the number of pairs drawn."""
    import torch
    from sentence_transformers import SentenceTransformer, losses
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    from shared.models import resolve_model

    model = SentenceTransformer(str(resolve_model(args.base)), device="cpu", local_files_only=True)
    model.max_seq_length = args.max_length
    loss = losses.CosineSimilarityLoss(model)
    pairs = draw_pairs(data, args.contrastive_pairs, args.seed)
    steps_per_epoch = math.ceil(len(pairs) / args.batch_size)
    total = max(1, int(steps_per_epoch * args.contrastive_epochs))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.contrastive_learning_rate,
                                  weight_decay=args.weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * total), total)
    model.train()
    for step in tqdm(range(total), desc="contrastive pairs", unit="step", disable=not args.progress):
        start = (step % steps_per_epoch) * args.batch_size
        batch = pairs[start:start + args.batch_size]
        features = [model.tokenize([p[0] for p in batch]), model.tokenize([p[1] for p in batch])]
        value = loss(features, torch.tensor([p[2] for p in batch], dtype=torch.float32))
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.save(str(out_dir))
    return len(pairs)
