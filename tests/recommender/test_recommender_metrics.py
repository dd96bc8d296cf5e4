"""Ranking metrics against values worked out by hand."""
from __future__ import annotations

import math

import pytest

from recommender.metrics import average_precision, ndcg_at_k, precision_at_k, ranking_metrics, recall_at_k


def test_metrics_by_hand():
    ranked = ["a", "x", "b", "y"]
    relevant = {"a", "b", "c"}
    assert precision_at_k(ranked, relevant, 4) == 0.5
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert average_precision(ranked, relevant, 4) == pytest.approx((1 / 1 + 2 / 3) / 3)
    dcg = 1 + 1 / math.log2(4)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, relevant, 4) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "b", "c"], relevant, 3) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], relevant, 2) == 0.0


def test_ndcg_agrees_with_sklearn():
    import numpy as np
    from sklearn.metrics import ndcg_score

    items = [f"i{n}" for n in range(20)]
    relevant = {"i3", "i7", "i12"}
    ranked = ["i7", "i0", "i1", "i3", "i5", "i6", "i2", "i8", "i9", "i12"]
    scores = np.array([[20 - ranked.index(i) if i in ranked else 0 for i in items]], dtype=float)
    truth = np.array([[1.0 if i in relevant else 0.0 for i in items]])
    assert ndcg_at_k(ranked, relevant, 10) == pytest.approx(ndcg_score(truth, scores, k=10))


def test_ranking_metrics_average_over_users_with_relevant_items():
    metrics = ranking_metrics({"u1": ["a", "b"], "u2": ["c", "d"], "u3": ["e"]},
                              {"u1": {"a"}, "u2": {"z"}, "u4": {"a"}}, k=2)
    assert metrics["users"] == 2
    assert metrics["precision_at_2"] == pytest.approx(0.25)
    assert metrics["recall_at_2"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        ranking_metrics({}, {"u": {"a"}})
