"""Top-k ranking metrics with the definitions of Microsoft Recommenders' benchmark table.

For each user: the ranked list (top k), and the set of relevant items (the user's test rows).
Users without relevant items are skipped; the figure is the mean over the other users.

- precision@k = hits / k
- recall@k = hits / |relevant|
- MAP: the mean over users of (sum of precision at the rank of each hit) / |relevant|
  (recommenders' ``map_at_k`` of the benchmark table; it divides by all relevant items, not
  by min(k, |relevant|))
- nDCG@k: binary gains, DCG = sum 1/log2(rank + 1), ideal DCG over min(k, |relevant|) hits
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

METRIC_NAMES = ("precision_at_10", "recall_at_10", "map", "ndcg_at_10")


def precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the first ``k`` that are relevant (divided by ``k`` even when fewer were ranked)."""
    return sum(1 for item in ranked[:k] if item in relevant) / k


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the relevant items found in the first ``k``; callers skip users with none."""
    return sum(1 for item in ranked[:k] if item in relevant) / len(relevant)


def average_precision(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """AP@k divided by all relevant items (not by min(k, relevant)), as Microsoft Recommenders'
    ``map_at_k`` does, so the MAP compares with their published table."""
    hits, total = 0, 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Binary-relevance nDCG@k: the headline metric the benchmark compares with SAR, BPR and BiVAE."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, item in enumerate(ranked[:k], start=1) if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal


def ranking_metrics(rankings: Mapping[str, Sequence[str]], relevant: Mapping[str, set[str]], k: int = 10) -> dict:
    """The four metrics averaged over users that have relevant items and a ranking."""
    users = [u for u in relevant if relevant[u] and u in rankings]
    if not users:
        raise ValueError("no user has both a ranking and relevant items")
    sums = dict.fromkeys(("precision", "recall", "map", "ndcg"), 0.0)
    for user in users:
        ranked, truth = list(rankings[user]), relevant[user]
        sums["precision"] += precision_at_k(ranked, truth, k)
        sums["recall"] += recall_at_k(ranked, truth, k)
        sums["map"] += average_precision(ranked, truth, k)
        sums["ndcg"] += ndcg_at_k(ranked, truth, k)
    n = len(users)
    return {f"precision_at_{k}": sums["precision"] / n, f"recall_at_{k}": sums["recall"] / n,
            "map": sums["map"] / n, f"ndcg_at_{k}": sums["ndcg"] / n, "users": n}
