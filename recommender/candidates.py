"""Candidates for one user: FAISS neighbours of the profile, a slice of popular items, and
(added by the model) the items that co-occur most with the user's history.

The index search excludes what the user has already seen inside FAISS (an ID selector), so
the top-N are all new. A share of the slots goes to the most popular unseen items: the final
ranking blends in popularity, and it can only promote popular items that are candidates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from recommender.index import ItemIndex
from recommender.profiles import Popularity


@dataclass
class Candidate:
    """One pool entry: the item, its similarity to the profile, where it came from (``index``,
    ``popular``, ``cooccurrence``, ``new``) and its co-occurrence score, the features ranking reads."""

    item: str
    similarity: float
    source: str  # "index", "popular", "cooccurrence" or "new"
    cooccurrence: float = 0.0


def generate_candidates(profile: np.ndarray, index: ItemIndex, seen: set[str], popularity: Popularity,
                        n: int = 50, popular_share: float = 0.3, *,
                        search: Callable[[np.ndarray, int, set[str]], list] | None = None) -> list[Candidate]:
    """``search(profile, n, seen)``: the index search to use (the model passes its batched one);
    default: ``index.search`` with the exclusions inside FAISS."""
    n_popular = int(round(n * popular_share))
    found = search(profile, n, seen) if search else index.search(profile, n, exclude=seen)[0]
    chosen = [Candidate(item, score, "index") for item, score in found[: n - n_popular]]
    taken = {c.item for c in chosen}
    popular = [item for item, _ in popularity.ranked(exclude=seen | taken, limit=n_popular, allowed=index)]
    if popular:
        similarities = index.vectors(popular) @ profile
        chosen += [Candidate(item, float(s), "popular") for item, s in zip(popular, similarities)]
        taken.update(popular)
    for item, score in found[n - n_popular:]:  # top up when the popular slice came up short
        if len(chosen) >= n:
            break
        if item not in taken:
            chosen.append(Candidate(item, score, "index"))
            taken.add(item)
    return chosen
