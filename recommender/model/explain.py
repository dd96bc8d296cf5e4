"""Reasons a user can believe: each pick names the history item that lifted it most.

"Because you liked X" is only true if X is why the item was picked. The explainer asks the
ranker that ranked the answer how much each pick's score would drop with each history item left
out (``Ranker.drops``, computed the way that ranker scores: co-occurrence weights, the profile's
similarity, the segment blend) and names the item whose removal costs the most. A pick no
history item lifts (popularity carried it) says so instead of naming one at random.
``bench.recommender`` checks the names against real deletions (``explanations``).
"""
from __future__ import annotations

import numpy as np

from recommender.model.rankers import Ranker, Ranking
from recommender.model.state import ServingState

POPULAR_REASON = "popular with other users"
NEW_REASON = "new in the catalogue"
LIFT_TOLERANCE = 1e-9  # a drop smaller than this is rounding, not a reason


class Explainer:
    """Turns a ranking into (reason, the history item it names) per pick."""

    def __init__(self, state: ServingState):
        self.state = state

    def reasons(self, ranker: Ranker, ranking: Ranking) -> list[tuple[str, str | None]]:
        """One (reason, item id or None) per pick of ``ranking``, in its order."""
        if not ranking.items:
            return []
        history = list(ranking.user.weights)
        if not history:
            return [self._unlifted(item) for item in ranking.items]
        if ranking.user.vectors is None:  # a cached ranking: its history's vectors from the index
            user = ranking.user._replace(vectors=self.state.index.vectors(history))
            ranking = Ranking(ranking.items, ranking.scores, user, ranking.features, ranking.complete)
        drops = ranker.drops(ranking)
        out = []
        for column, item in enumerate(ranking.items):
            best = int(np.argmax(drops[:, column]))
            if not drops[best, column] > LIFT_TOLERANCE:
                out.append(self._unlifted(item))
            else:
                out.append(self._lifted(item, history[best]))
        return out

    def _lifted(self, item: str, liked: str) -> tuple[str, str]:
        """A new item can only have been found by its text, and its reason says so."""
        title = self.state.items[liked].title
        if self.state.popularity.counts.get(item):
            return f"because you liked {title}", liked
        return f"new: similar to {title}, which you liked", liked

    def _unlifted(self, item: str) -> tuple[str, None]:
        return (POPULAR_REASON if self.state.popularity.counts.get(item) else NEW_REASON), None
