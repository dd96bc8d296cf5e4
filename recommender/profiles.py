"""User profiles from interaction history, and what is popular with everyone.

A purchase says more than a view, and last week says more than last year: each interaction
weighs ``event_weights[event]`` times a half-life decay (ratings scale it by
rating / neutral_rating). The decay counts back from the user's own newest interaction, not
from today, so a user who comes back after a year still has a profile. The profile is the
weighted mean of the interacted items' vectors, renormalised: one query vector for FAISS.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from shared.arguments import arg

if TYPE_CHECKING:  # annotations only: the CLI reads FitConfig without pandas or scikit-learn
    from recommender.data import Interaction

DAY = 86400.0
DEFAULT_EVENT_WEIGHTS = {"view": 1.0, "click": 2.0, "comment": 3.0, "share": 4.0, "purchase": 5.0, "rating": 1.0}


@dataclass
class ProfileConfig:
    """How a history becomes a profile: what each kind of interaction weighs and how fast it fades."""

    event_weights: dict[str, float] = arg(help="weight of each event kind (a purchase says more than a view)",
                                          default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS), cli=False)
    half_life_days: float = arg(30.0, "an interaction this many days older than the user's newest weighs half "
                                      "(0: no decay)")
    neutral_rating: float = arg(3.0, "a rating equal to this weighs 1; a 5 of 5 weighs 5/3 and a 1 weighs 1/3")
    context_items: int = arg(1, "how many of the user's strongest items the relevance scorer reads (each adds "
                                "about 18 tokens to every pair, and the scorer's time grows with them)")

    def weight(self, row: Interaction, newest: float) -> float:
        base = self.event_weights.get(row.event, 1.0)
        if row.rating is not None and self.neutral_rating > 0:
            base *= max(row.rating, 0.0) / self.neutral_rating
        age_days = max(0.0, newest - row.timestamp) / DAY
        return base * math.pow(0.5, age_days / self.half_life_days) if self.half_life_days > 0 else base

    def to_dict(self) -> dict:
        return {"event_weights": self.event_weights, "half_life_days": self.half_life_days,
                "neutral_rating": self.neutral_rating, "context_items": self.context_items}


def item_weights(history: Sequence[Interaction], config: ProfileConfig) -> dict[str, float]:
    """Each interacted item's total weight (repeat interactions add up), strongest first."""
    if not history:
        return {}
    newest = max(row.timestamp for row in history)
    weights: dict[str, float] = defaultdict(float)
    for row in history:
        weights[row.item] += config.weight(row, newest)
    return dict(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))


def profile_vector(weights: Mapping[str, float], vectors: np.ndarray) -> np.ndarray | None:
    """Unit-length weighted mean of ``vectors`` (rows in the order of ``weights``)."""
    if not len(weights):
        return None
    w = np.fromiter(weights.values(), dtype=np.float32, count=len(weights))
    if w.sum() <= 0:
        w = np.ones_like(w)
    vector = (w[:, None] * vectors).sum(axis=0)
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else None


class Popularity:
    """Interaction counts and the newest interaction time per item, updated as the log grows."""

    def __init__(self, interactions: Iterable[Interaction] = ()):
        self.counts: Counter[str] = Counter()
        self.last_seen: dict[str, float] = {}
        self.newest = 0.0
        self.max_count = 0
        self._order: list[tuple[str, int]] | None = None  # most_common(), kept until the counts change
        self._columns: dict[float, dict[str, tuple[float, float]]] = {}  # (score, recency) per half-life
        for row in interactions:
            self.add(row)

    def add(self, row: Interaction) -> None:
        self._order, self._columns = None, {}
        self.counts[row.item] += 1
        self.max_count = max(self.max_count, self.counts[row.item])
        if row.timestamp > self.last_seen.get(row.item, -math.inf):
            self.last_seen[row.item] = row.timestamp
        self.newest = max(self.newest, row.timestamp)

    def forget(self, item: str) -> None:
        self._order, self._columns = None, {}
        self.counts.pop(item, None)
        self.last_seen.pop(item, None)
        self.max_count = max(self.counts.values(), default=0)

    def ranked(self, exclude: set[str] = frozenset(), limit: int = 10, allowed=None) -> list[tuple[str, int]]:
        if self._order is None:  # sorting every item per request was a miss's largest single cost
            self._order = self.counts.most_common()
        out = []
        for item, count in self._order:
            if item in exclude or (allowed is not None and item not in allowed):
                continue
            out.append((item, count))
            if len(out) >= limit:
                break
        return out

    def score(self, item: str) -> float:
        """log-scaled count in [0, 1]: 1 for the most popular item."""
        if not self.max_count:
            return 0.0
        return math.log1p(self.counts.get(item, 0)) / math.log1p(self.max_count)

    def columns(self, items: Sequence[str], half_life_days: float) -> np.ndarray:
        """``score`` and ``recency`` of each item as two columns, remembered per item until the
        counts change (a request reads a few hundred candidates; the log changes rarely)."""
        table = self._columns.setdefault(half_life_days, {})  # filled per item as requests read them
        out = np.zeros((len(items), 2), dtype=np.float64)
        for row, item in enumerate(items):
            found = table.get(item)
            if found is None:
                found = table[item] = (self.score(item), self.recency(item, half_life_days))
            out[row] = found
        return out

    def recency(self, item: str, half_life_days: float = 30.0) -> float:
        """1 for an item interacted with at the newest time in the log, halving per half-life."""
        if item not in self.last_seen:
            return 0.0
        return math.pow(0.5, max(0.0, self.newest - self.last_seen[item]) / DAY / half_life_days)
