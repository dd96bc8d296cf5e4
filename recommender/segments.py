"""Segments: one fitted blend per kind of (user, item) pair, each with only the features that pay.

What predicts an interaction depends on what behaviour is known. For a warm user and a warm
item, co-occurrence says most and the text scorer adds little; for an item nobody has touched
yet (``cold_item``) popularity and co-occurrence are zero and only text can rank it; for a
user with one to three interactions (``sparse_user``) the profile is thin and popularity
weighs more. So each segment gets its own logistic regression on the validation candidates
of that segment, and a feature whose presence does not improve validation for that segment
(backward elimination, grouped cross-validation by user, gain below ``min_gain`` in mean
per-user average precision) is dropped from it: serving then skips computing it for that
segment, which is how warm requests stop paying for a scorer that does not help them.

Scores are logits of P(interaction), so candidates of different segments compare directly in
one ranked list. The decision (kept and dropped features, validation figures, weights) is
written to ``segments.json`` in the model folder and shown by ``recommender fit``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from recommender.ranking import FEATURES, Blend, fit_blend

SEGMENTS = ("warm", "cold_item", "sparse_user")
SPARSE_USER_MAX = 3
"""A user with at most this many distinct items is ``sparse_user``."""
MIN_POSITIVES = 10
"""Fewer validation positives than this in a segment: it borrows the warm segment's blend."""
SEGMENTS_FILE = "segments.json"


def segment_of(user_items: int, item_interactions: int) -> str:
    """The segment of a pair: the user's distinct items so far, the item's interactions so far."""
    if item_interactions <= 0:
        return "cold_item"
    if user_items <= SPARSE_USER_MAX:
        return "sparse_user"
    return "warm"


def _mean_user_ap(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> float:
    """Mean over users (with a positive and a negative) of the average precision of their rows."""
    from sklearn.metrics import average_precision_score

    order = np.argsort(groups, kind="stable")
    groups, scores, labels = groups[order], scores[order], labels[order]
    bounds = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    values = []
    for s, y in zip(np.split(scores, bounds), np.split(labels, bounds)):
        if 0 < y.sum() < len(y):
            values.append(average_precision_score(y, s))
    return float(np.mean(values)) if values else 0.0


def _cv_score(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, columns: list[int], seed: int,
              folds: int = 3) -> float:
    """Mean per-user AP of out-of-fold logistic-regression scores on ``columns``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    scores = np.zeros(len(labels))
    for train, test in GroupKFold(n_splits=folds).split(features, labels, groups):
        if len(set(labels[train].tolist())) < 2:
            return 0.0
        model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(features[train][:, columns], labels[train])
        scores[test] = model.decision_function(features[test][:, columns])
    return _mean_user_ap(scores, labels, groups)


def select_features(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, names: Sequence[str], *,
                    seed: int = 42, min_gain: float = 0.002) -> dict:
    """Backward elimination: drop, one at a time, the feature whose removal costs least, while
    keeping it gains less than ``min_gain`` (mean per-user AP, 3-fold CV grouped by user)."""
    names = list(names)
    kept = list(range(len(names)))
    first = best = _cv_score(features, labels, groups, kept, seed)
    dropped = []
    while len(kept) > 1:
        trials = {column: _cv_score(features, labels, groups, [c for c in kept if c != column], seed)
                  for column in kept}
        column, without = max(trials.items(), key=lambda kv: kv[1])
        gain = best - without
        if gain >= min_gain:
            break
        kept.remove(column)
        dropped.append({"feature": names[column], "gain_when_kept": round(gain, 5)})
        best = without
    return {"kept": [names[c] for c in kept], "dropped": dropped, "validation_ap_all": round(first, 5),
            "validation_ap_kept": round(best, 5), "min_gain": min_gain}


@dataclass
class SegmentedBlend:
    """A blend per segment; ``score`` picks each row's blend by its segment."""

    blends: dict[str, Blend]
    decisions: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def uniform(cls, blend: Blend) -> "SegmentedBlend":
        """The same blend for every segment (a folder fitted before segments existed)."""
        return cls({name: blend for name in SEGMENTS}, {name: {"note": "one blend for all segments"}
                                                        for name in SEGMENTS})

    def blend(self, segment: str) -> Blend:
        return self.blends.get(segment) or self.blends["warm"]

    def uses(self, feature: str, segment: str) -> bool:
        return self.blend(segment).weights.get(feature, 0.0) != 0.0

    def score(self, features: np.ndarray, segments: Sequence[str]) -> np.ndarray:
        """The logit of each row under its own segment's blend."""
        features = np.asarray(features, dtype=np.float64)
        out = np.zeros(len(features))
        groups: dict[str, list[int]] = {}
        for row, name in enumerate(segments):
            groups.setdefault(name, []).append(row)
        for name, rows in groups.items():
            out[rows] = self.blend(name).score(features[rows])
        return out

    def to_dict(self) -> dict:
        return {"segments": {name: {"blend": blend.to_dict(), "decision": self.decisions.get(name, {})}
                             for name, blend in self.blends.items()},
                "sparse_user_max": SPARSE_USER_MAX}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "SegmentedBlend":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        blends, decisions = {}, {}
        for name, part in data["segments"].items():
            raw = part["blend"]
            blends[name] = Blend(dict(raw["weights"]), float(raw["bias"]), dict(raw.get("fitted_on", {})))
            decisions[name] = dict(part.get("decision", {}))
        return cls(blends, decisions)


def fit_segmented(features: np.ndarray, labels: np.ndarray, segments: Sequence[str], groups: Sequence[str],
                  names: Sequence[str] = FEATURES, *, seed: int = 42, min_gain: float = 0.002,
                  select: bool = True) -> SegmentedBlend:
    """Per segment: choose its features (``select_features``), then fit the blend on them.

    ``features`` has the columns ``names``; a segment with fewer than ``MIN_POSITIVES``
    positives borrows the warm segment's blend (noted in its decision)."""
    features, labels = np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=int)
    segments, groups = np.asarray(segments), np.asarray(groups)
    names = list(names)
    blends, decisions = {}, {}
    for name in ("warm",) + tuple(s for s in SEGMENTS if s != "warm"):
        rows = segments == name
        x, y, g = features[rows], labels[rows], groups[rows]
        info = {"examples": int(rows.sum()), "positives": int(y.sum())}
        if y.sum() < MIN_POSITIVES or y.sum() == len(y):
            if name != "warm" and "warm" in blends:
                blends[name] = blends["warm"]
                decisions[name] = info | {"note": "too few validation positives: the warm segment's blend"}
                continue
            blends[name] = fit_blend(x, y, seed=seed, names=tuple(names))
            decisions[name] = info | {"kept": names, "note": "too few validation positives: no selection"}
            continue
        if select and len(set(g.tolist())) >= 3:
            decision = select_features(x, y, g, names, seed=seed, min_gain=min_gain)
        else:
            decision = {"kept": names, "dropped": [], "note": "no selection"}
        columns = [names.index(f) for f in decision["kept"]]
        blends[name] = fit_blend(x[:, columns], y, seed=seed, names=tuple(decision["kept"]))
        decisions[name] = info | decision
    return SegmentedBlend(blends, decisions)
