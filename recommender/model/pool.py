"""The candidate pool: the few hundred items worth ranking for one user, out of the whole catalogue.

Ranking every item costs too much per request, so the first stage gathers FAISS neighbours of
the user's profile, the most popular unseen items, the items that co-occur with the history
in other users' logs, and a slice of new items (``new_share``) that only text can find. The
profile and its parts travel with the pool (``UserCandidates``), because the rankers and the
explainer need them again.
"""
from __future__ import annotations

from typing import Collection, NamedTuple, Sequence

import numpy as np

from recommender.candidates import Candidate, generate_candidates
from recommender.data import Interaction
from recommender.model.state import ServingState
from recommender.profiles import item_weights, profile_vector
from shared.inference.batching import MicroBatcher

INDEX_BATCH = 16  # below FAISS's BLAS threshold (20 queries): a batch scores bit-for-bit like one query


class UserProfile(NamedTuple):
    """A history as the ranking sees it: item weights (strongest first, indexed items only),
    their vectors in that order, and the unit profile vector (None: nothing to go on)."""

    weights: dict[str, float]
    vectors: np.ndarray | None
    profile: np.ndarray | None


class UserCandidates(NamedTuple):
    """A user's profile and the candidate pool gathered for it."""

    weights: dict[str, float]
    vectors: np.ndarray | None
    profile: np.ndarray | None
    candidates: list[Candidate]


class CandidatePool:
    """Profiles and candidate generation over a ``ServingState``; FAISS searches of concurrent
    requests can share one call (``batch_index_search``)."""

    def __init__(self, state: ServingState):
        self.state = state
        self.index_batcher = MicroBatcher(self._search_batch, max_batch=INDEX_BATCH, max_wait_ms=2, name="faiss")

    def profile_of(self, history: Sequence[Interaction]) -> UserProfile:
        """Weights, vectors and profile of a history (items missing from the index ignored)."""
        index, config = self.state.index, self.state.config
        weights = {i: w for i, w in item_weights(history, config.profile).items() if i in index}
        vectors = index.vectors(list(weights))
        return UserProfile(weights, vectors, profile_vector(weights, vectors))

    def gather(self, history: Sequence[Interaction], n: int | None = None, *, scope: str = "all",
               ticket=None) -> UserCandidates:
        """The pool for a history: FAISS neighbours, popular items, items co-occurring with the
        history, and the new items nearest to the profile; with ``scope="new"``, new items only."""
        state = self.state
        weights, vectors, profile = self.profile_of(history)
        if profile is None:
            return UserCandidates(weights, vectors, None, [])
        seen = {row.item for row in history}
        n = n or state.config.pool
        if scope == "new":
            return UserCandidates(weights, vectors, profile, self.new_candidates(profile, seen, n))
        found = generate_candidates(profile, state.index, seen, state.popularity, n, state.config.popular_share,
                                    search=lambda p, k, s: self.search(p, k, s, ticket))
        taken = {c.item for c in found}
        co_scores = state.cooccurrence.scores(weights)
        extra = state.cooccurrence.top(co_scores, int(round(n * state.config.cooccurrence_share)),
                                       exclude=seen | taken, allowed=state.index)
        if extra:
            similarities = state.index.vectors([item for item, _ in extra]) @ profile
            found += [Candidate(item, float(sim), "cooccurrence") for (item, _), sim in zip(extra, similarities)]
            taken.update(item for item, _ in extra)
        found += self.new_candidates(profile, seen, int(round(n * state.config.new_share)), exclude=taken)
        position = state.cooccurrence.position
        for c, row in zip(found, (position.get(c.item, -1) for c in found)):
            c.cooccurrence = float(co_scores[row]) if row >= 0 else 0.0
        return UserCandidates(weights, vectors, profile, found)

    def new_candidates(self, profile: np.ndarray, seen: set[str], n: int,
                       exclude: Collection[str] = ()) -> list[Candidate]:
        """The ``n`` new items nearest to the profile: only text can find them."""
        ids, vectors = self.state.new_items()
        if n <= 0 or not ids:
            return []
        similarities = vectors @ profile
        out = []
        for position in np.argsort(-similarities, kind="stable"):
            item = ids[position]
            if item not in seen and item not in exclude:
                out.append(Candidate(item, float(similarities[position]), "new"))
                if len(out) >= n:
                    break
        return out

    def search(self, profile: np.ndarray, n: int, seen: set[str], ticket=None) -> list[tuple[str, float]]:
        """The ``n`` nearest unseen items; through the FAISS batcher (on ``ticket`` when this
        request announced itself) unless the exclusions are a large part of the catalogue."""
        index = self.state.index
        direct = len(seen) > len(index) // 2 or not self.state.config.batch_index_search
        if direct:  # batching off, or most of the catalogue excluded: the in-FAISS selector is cheaper
            if ticket is not None:
                ticket.cancel()
            return index.search(profile, n, exclude=seen)[0]
        request = (profile, n, frozenset(seen))
        return ticket.submit(request).result() if ticket is not None else self.index_batcher(request)

    def _search_batch(self, requests: Sequence[tuple[np.ndarray, int, frozenset]]) -> list:
        """FAISS for several requests at once: one search over all their profiles, deep enough
        that each request's own exclusions still leave its ``n`` best."""
        index = self.state.index
        queries = np.vstack([profile for profile, _, _ in requests])
        depth = min(len(index), max(n + len(seen) for _, n, seen in requests))
        found = index.search(queries, depth)
        return [[(item, score) for item, score in row if item not in seen][:n]
                for row, (_, n, seen) in zip(found, requests)]
