"""The final ranking: a linear blend of the candidate features, its weights fitted on validation.

Features per (user, candidate): the relevance scorer's probability, the retrieval similarity,
log popularity, item recency and the co-occurrence score (people who liked the user's items
also liked this one). A logistic regression on held-out interactions (label: did
the user interact with the candidate) gives the weights, so the blend reflects how much each
signal is worth on this catalogue instead of a hand-tuned guess.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FEATURES = ("scorer", "similarity", "popularity", "recency", "cooccurrence")


@dataclass
class Blend:
    """Linear weights over FEATURES, fitted by logistic regression on validation (scores are logits)."""

    weights: dict[str, float] = field(default_factory=lambda: {"scorer": 1.0, "similarity": 1.0,
                                                                "popularity": 1.0, "recency": 0.0,
                                                                "cooccurrence": 1.0})
    bias: float = 0.0
    fitted_on: dict = field(default_factory=dict)

    def vector(self) -> np.ndarray:
        return np.array([self.weights.get(name, 0.0) for name in FEATURES], dtype=np.float64)

    def score(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, dtype=np.float64) @ self.vector() + self.bias

    def to_dict(self) -> dict:
        return {"features": list(FEATURES), "weights": self.weights, "bias": self.bias, "fitted_on": self.fitted_on}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Blend":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(dict(data["weights"]), float(data["bias"]), dict(data.get("fitted_on", {})))


def fit_blend(features: np.ndarray, labels: np.ndarray, *, seed: int = 42,
              names: tuple[str, ...] = FEATURES) -> Blend:
    """Logistic regression weights over the columns named ``names`` (default: all of
    FEATURES); a feature left out weighs 0. Falls back to default weights when validation
    has one class only."""
    from sklearn.linear_model import LogisticRegression

    names = tuple(names)
    features, labels = np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=int)
    if features.shape[1:] != (len(names),):
        raise ValueError(f"expected {len(names)} feature columns ({', '.join(names)}), got {features.shape}")
    info = {"examples": int(len(labels)), "positives": int(labels.sum()), "features": list(names)}
    if len(set(labels.tolist())) < 2:
        return Blend(weights={name: 1.0 for name in names if name != "recency"},
                     fitted_on=info | {"note": "one class only: default weights"})
    model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(features, labels)
    weights = dict.fromkeys(FEATURES, 0.0) | {name: float(w) for name, w in zip(names, model.coef_[0])}
    return Blend(weights, float(model.intercept_[0]), info)
