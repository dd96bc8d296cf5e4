"""The train/test split of Microsoft Recommenders' benchmark table (python_stratified_split).

Per user, the user's rows are shuffled with the seed and the first 75% go to training, so
every test user also has a training history. Figures are only comparable with the published
anchors (SAR, BPR, BiVAE) when the split is the same.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from recommender.data import Interaction


def stratified_split_by_user(interactions: list[Interaction], ratio: float = 0.75, seed: int = 42,
                             ) -> tuple[list[Interaction], list[Interaction]]:
    """(train, test): per user, a seeded shuffle of the rows cut at round(ratio * n)."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be between 0 and 1, got {ratio}")
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for row in interactions:
        by_user[row.user].append(row)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for user in sorted(by_user):
        rows = by_user[user]
        order = rng.permutation(len(rows))
        cut = int(round(ratio * len(rows)))
        train.extend(rows[i] for i in order[:cut])
        test.extend(rows[i] for i in order[cut:])
    return train, test
