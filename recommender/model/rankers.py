"""One ranker per mode, in a table keyed by the mode's name (``RANKERS``).

A ranker orders items for a history and can say, for each history item, how much each pick's
score would drop without it (``drops``): the deletion test the explainer reads reasons from,
computed the way the ranker scores, so a reason names what really lifted the pick.

- ``popularity``: most interactions first; also every mode's answer for a user with no profile.
- ``retrieval``: text alone, FAISS's nearest unseen items to the profile.
- ``cooccurrence``: behaviour alone, EASE (or Jaccard) scores of the history.
- ``full``: the cascade: candidate pool, prefilter shortlist, scorer where a segment uses it,
  and the segment blends.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from recommender.candidates import Candidate
from recommender.data import Interaction
from recommender.model.features import CandidateScoring
from recommender.model.pool import CandidatePool, UserProfile
from recommender.model.state import ServingState
from recommender.ranking import FEATURES

SIMILARITY, COOCCURRENCE = FEATURES.index("similarity"), FEATURES.index("cooccurrence")


@dataclass
class Ranking:
    """What a ranker chose for one user (best first), and what the explainer needs to say why."""

    items: list[str]
    scores: np.ndarray
    user: UserProfile = UserProfile({}, None, None)
    features: np.ndarray | None = None
    """The final blend's feature rows of ``items`` (``full`` only)."""
    complete: bool = False
    """True when fewer items than asked exist: a deeper answer would not be longer."""

    def part(self, start: int, stop: int) -> "Ranking":
        """The picks ``start:stop``, with the same user: the explainer explains a slice at a time."""
        features = None if self.features is None else self.features[start:stop]
        return Ranking(self.items[start:stop], self.scores[start:stop], self.user, features, self.complete)

    def kept(self) -> "Ranking":
        """This ranking as the answer cache keeps it: without the history's vectors (the
        largest part; the explainer reads them back from the index when it writes reasons)."""
        user = UserProfile(self.user.weights, None, self.user.profile)
        return Ranking(self.items, self.scores, user, self.features, self.complete)


def _ranking(pairs: Sequence[tuple[str, float]], depth: int, user: UserProfile | None = None) -> Ranking:
    """A ranking from (item, score) pairs, best first; complete when fewer than ``depth`` exist."""
    return Ranking([i for i, _ in pairs], np.array([s for _, s in pairs], dtype=np.float64),
                   user or UserProfile({}, None, None), complete=len(pairs) < depth)


class Ranker:
    """The base: what every mode needs to rank over one ``ServingState``."""

    def __init__(self, state: ServingState, pool: CandidatePool, scoring: CandidateScoring):
        self.state, self.pool, self.scoring = state, pool, scoring

    def rank(self, history: Sequence[Interaction], depth: int, scope: str, ticket=None) -> Ranking | None:
        """The ``depth`` best items, or None when the history gives no profile (cold start)."""
        raise NotImplementedError

    def drops(self, ranking: Ranking) -> np.ndarray:
        """(history items x picks): how much each pick's score falls without each history item."""
        return np.zeros((len(ranking.user.weights), len(ranking.items)))

    def allowed(self, scope: str):
        """The items a scope may recommend: the new ones, or the whole index."""
        return set(self.state.new_items()[0]) if scope == "new" else self.state.index

    def top_up(self, ranked: list[tuple[str, float]], seen: set[str], depth: int, scope: str) -> list:
        """A young catalogue or a thin signal: the rest in catalogue order, score 0."""
        if len(ranked) >= depth:
            return ranked
        have, allowed = seen | {i for i, _ in ranked}, self.allowed(scope)
        return ranked + [(i, 0.0) for i in self.state.items if i not in have and i in allowed][: depth - len(ranked)]

    def similarity_without_each(self, user: UserProfile, items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of the profile with ``items``, and the same with each history item left out.

        The profile is the renormalised weighted sum ``t = sum_h w_h v_h``, so leaving ``h`` out
        gives ``t - w_h v_h``: its dot with an item and its norm follow from ``V x`` and ``V t``
        (history x items and history x 1) without building one profile per history item, which
        made this the costliest part of a heavy user's answer."""
        weights = np.fromiter(user.weights.values(), dtype=np.float64, count=len(user.weights))
        weights = weights if weights.sum() > 0 else np.ones_like(weights)
        vectors = user.vectors
        targets = self.state.index.vectors(list(items))
        total = (weights.astype(np.float32) @ vectors).astype(np.float64)
        along = (vectors @ targets.T).astype(np.float64)  # v_h . x
        toward = vectors.astype(np.float64) @ total  # v_h . t
        lengths = np.einsum("ij,ij->i", vectors, vectors).astype(np.float64)  # |v_h|^2
        at = targets.astype(np.float64) @ total  # t . x
        norms = np.sqrt(np.maximum(total @ total - 2 * weights * toward + weights ** 2 * lengths, 0.0))
        rest = at[None, :] - weights[:, None] * along
        without = np.divide(rest, norms[:, None], out=np.full(rest.shape, -np.inf), where=norms[:, None] > 1e-6 * np.sqrt(total @ total))
        return at / np.linalg.norm(total), without


class PopularityRanker(Ranker):
    """Most interactions first: no history item lifts any pick."""

    def rank(self, history, depth, scope, ticket=None) -> Ranking:
        seen = {row.item for row in history}
        ranked = self.state.popularity.ranked(exclude=seen, limit=depth, allowed=self.allowed(scope))
        ranked = self.top_up([(i, float(c)) for i, c in ranked], seen, depth, scope)
        return _ranking(ranked, depth)


class RetrievalRanker(Ranker):
    """Text alone: the nearest unseen items to the profile."""

    def rank(self, history, depth, scope, ticket=None) -> Ranking | None:
        user = self.pool.profile_of(history)
        if user.profile is None:
            return None
        seen = {row.item for row in history}
        if scope == "new":
            found = [(c.item, c.similarity) for c in self.pool.new_candidates(user.profile, seen, depth)]
        else:
            found = self.state.index.search(user.profile, depth, exclude=seen)[0]
        return _ranking(found, depth, user)

    def drops(self, ranking: Ranking) -> np.ndarray:
        base, without = self.similarity_without_each(ranking.user, ranking.items)
        return base[None, :] - without


class CoOccurrenceRanker(Ranker):
    """Behaviour alone: what people who liked the user's items also liked."""

    def rank(self, history, depth, scope, ticket=None) -> Ranking | None:
        user = self.pool.profile_of(history)
        if user.profile is None:
            return None
        seen = {row.item for row in history}
        cooccurrence = self.state.cooccurrence
        top = cooccurrence.top(cooccurrence.scores(user.weights), depth, exclude=seen, allowed=self.allowed(scope))
        top = self.top_up(top, seen, depth, scope)
        return _ranking(top, depth, user)

    def drops(self, ranking: Ranking) -> np.ndarray:
        without = self.state.cooccurrence.scores_without_each(ranking.user.weights, ranking.items,
                                                              base=ranking.scores)
        return ranking.scores[None, :] - without


class BlendRanker(Ranker):
    """The cascade: pool, prefilter shortlist, scorer where a segment uses it, segment blends."""

    def rank(self, history, depth, scope, ticket=None) -> Ranking | None:
        weights, vectors, profile, pool = self.pool.gather(history, max(depth, self.state.config.pool),
                                                           scope=scope, ticket=ticket)
        if profile is None:
            return None
        found = self.scoring.shortlist(weights, pool, depth)
        segments = self.scoring.segments_of(weights, found)
        needs_scorer = [self.scoring.blend.uses("scorer", segment) for segment in segments]
        features = self.scoring.features(weights, found, scorer=needs_scorer)
        blended = self.scoring.blend.score(features, segments)
        order = np.argsort(-blended, kind="stable")[:depth]
        return Ranking([found[i].item for i in order], blended[order], UserProfile(weights, vectors, profile),
                       features[order], complete=len(order) < depth)

    def drops(self, ranking: Ranking) -> np.ndarray:
        """Each pick's blend score recomputed with each history item left out: similarity and
        co-occurrence change, and the segment when the user has one item fewer. The scorer's
        column is held as the ranking computed it (0 where the pick's segment does not run the
        scorer, even if the segment with one item fewer would): it reads only the strongest
        ``context_items`` of the history, and running it again per reason would double a
        miss's cost. ``bench.recommender``'s deletion test does run it, so the figure there
        counts this shortcut."""
        user, items = ranking.user, ranking.items
        count = len(user.weights)
        _, similarity = self.similarity_without_each(user, items)
        cooccurrence = self.state.cooccurrence.scores_without_each(user.weights, items,
                                                                   base=ranking.features[:, COOCCURRENCE])
        features = np.repeat(ranking.features[None, :, :], count, axis=0)
        features[:, :, SIMILARITY] = np.where(np.isfinite(similarity), similarity, 0.0)  # -inf: no profile left
        features[:, :, COOCCURRENCE] = cooccurrence
        segments = self.scoring.segments_of(user.weights, [Candidate(i, 0.0, "") for i in items], count - 1)
        blended = np.zeros((count, len(items)))
        for name in set(segments):  # a pick's segment is the same whichever item is left out
            columns = [n for n, segment in enumerate(segments) if segment == name]
            blended[:, columns] = self.scoring.blend.blend(name).score(features[:, columns, :])
        without = np.where(np.isfinite(similarity), blended, -np.inf)
        return ranking.scores[None, :] - without


RANKERS: dict[str, type[Ranker]] = {"popularity": PopularityRanker, "retrieval": RetrievalRanker,
                                    "cooccurrence": CoOccurrenceRanker, "full": BlendRanker}
