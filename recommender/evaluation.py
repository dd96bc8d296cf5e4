"""Offline evaluation: recommend top-k for each test user and score it against their test rows.

The model's own log is the training part, so "items the user has not seen in training" is
exactly what ``Recommender.recommend`` returns (it never recommends a seen item).
"""
from __future__ import annotations

import random
from collections import defaultdict
from typing import Iterable, Sequence

from tqdm.auto import tqdm

from recommender.data import Interaction
from recommender.metrics import ranking_metrics


def relevant_items(test: Iterable[Interaction]) -> dict[str, set[str]]:
    """Each test user's held-out items: every test row counts as relevant, as in the Microsoft
    Recommenders protocol the benchmark follows."""
    truth: dict[str, set[str]] = defaultdict(set)
    for row in test:
        truth[row.user].add(row.item)
    return dict(truth)


def evaluate(model, test: Sequence[Interaction], *, k: int = 10, mode: str = "full", max_users: int | None = None,
             seed: int = 42, progress: bool = False) -> dict:
    """precision@k, recall@k, MAP and nDCG@k of ``model.recommend`` over the test users."""
    truth = relevant_items(test)
    users = sorted(truth)
    if max_users is not None and max_users < len(users):
        users = sorted(random.Random(seed).sample(users, max_users))
    rankings = {}
    for user in tqdm(users, desc=f"evaluate {mode}", disable=not progress):
        rankings[user] = [entry["item"] for entry in model.recommend(user, k, mode=mode)["items"]]
    metrics = ranking_metrics(rankings, {u: truth[u] for u in users}, k)
    metrics["mode"] = mode
    return metrics
