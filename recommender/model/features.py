"""Candidate features and the two fitted blends that turn them into scores.

Each candidate gets the columns of ``recommender.ranking.FEATURES``: the relevance scorer's
probability, the retrieval similarity, popularity, recency and co-occurrence. The prefilter
blend (no scorer) cuts the pool to the ``candidates`` the scorer may read; the final blend
ranks those. Both are per segment, and a segment whose blend gives the scorer no weight never
runs it, which is what keeps warm users' requests cheap.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from recommender.candidates import Candidate
from recommender.model.state import ServingState
from recommender.ranking import FEATURES, Blend
from recommender.scorer import RelevanceScorer, context_text
from recommender.segments import SegmentedBlend, segment_of
from shared.inference.batching import MicroBatcher

DEFAULT_PREFILTER = {"similarity": 1.0, "popularity": 1.0, "cooccurrence": 1.0}


def segmented(blend: Blend | SegmentedBlend | None) -> SegmentedBlend:
    """A plain ``Blend`` (tests, folders fitted before segments) counts for every segment."""
    return blend if isinstance(blend, SegmentedBlend) else SegmentedBlend.uniform(blend or Blend())


class CandidateScoring:
    """Features, the prefilter shortlist and the final blend's scores for one user's candidates."""

    def __init__(self, state: ServingState, *, blend: Blend | SegmentedBlend | None = None,
                 prefilter: Blend | SegmentedBlend | None = None, scorer: RelevanceScorer | None = None):
        self.state = state
        self.blend = blend
        self.prefilter = prefilter or Blend(weights=dict(DEFAULT_PREFILTER))
        self.scorer = scorer
        self.scorer_batcher = MicroBatcher(self._score_batch, max_batch=16, max_wait_ms=0, name="scorer")

    @property
    def blend(self) -> SegmentedBlend:
        """The final ranking's blends, one per segment."""
        return self._blend

    @blend.setter
    def blend(self, value: Blend | SegmentedBlend | None) -> None:
        self._blend = segmented(value)

    @property
    def prefilter(self) -> SegmentedBlend:
        """The pre-ranking blends (no scorer), one per segment."""
        return self._prefilter

    @prefilter.setter
    def prefilter(self, value: Blend | SegmentedBlend | None) -> None:
        self._prefilter = segmented(value)

    def segments_of(self, weights: dict, candidates: Sequence[Candidate], user_items: int | None = None) -> list[str]:
        """Each candidate's segment for a user with ``user_items`` distinct items (default: ``weights``')."""
        count, interactions = len(weights) if user_items is None else user_items, self.state.popularity.counts
        return [segment_of(count, interactions.get(c.item, 0)) for c in candidates]

    def features(self, weights: dict, candidates: Sequence[Candidate], *, scorer: bool | Sequence[bool] = True,
                 ) -> np.ndarray:
        """One row per candidate, columns in ranking.FEATURES order. ``scorer``: whether to
        run the scorer, for all candidates or per candidate (its column is 0 where not run)."""
        matrix = np.zeros((len(candidates), len(FEATURES)), dtype=np.float64)
        if not candidates:
            return matrix
        wanted = [scorer] * len(candidates) if isinstance(scorer, bool) else list(scorer)
        rows = [n for n, w in enumerate(wanted) if w]
        if rows:
            matrix[rows, 0] = self.scorer_column(list(weights), [candidates[n].item for n in rows])
        matrix[:, 1] = [c.similarity for c in candidates]
        matrix[:, 2:4] = self.state.popularity.columns([c.item for c in candidates],
                                                       self.state.config.profile.half_life_days)
        matrix[:, 4] = [c.cooccurrence for c in candidates]
        return matrix

    def scorer_column(self, ranked_history: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """The relevance scorer's probabilities for ``items`` given a history (strongest first);
        zeros without a scorer."""
        if self.scorer is None or not items:
            return np.zeros(len(items))
        state = self.state
        context = context_text(list(ranked_history), state.items, state.config.profile.context_items)
        return np.asarray(self.scorer_batcher((context, [state.items[i].text for i in items])), dtype=np.float64)

    def shortlist(self, weights: dict, pool: Sequence[Candidate], n: int) -> list[Candidate]:
        """The ``n`` best of the pool by the prefilter blends (no scorer): what the scorer reranks."""
        if len(pool) <= n:
            return list(pool)
        cheap = self.prefilter.score(self.features(weights, pool, scorer=False), self.segments_of(weights, pool))
        return [pool[i] for i in np.argsort(-cheap, kind="stable")[:n]]

    def _score_batch(self, requests: Sequence[tuple[str, list[str]]]) -> list[np.ndarray]:
        """The scorer for several requests, one after another on the scorer's worker thread.

        Each request's pairs stay one onnxruntime batch of their own: the int8 graph quantizes
        its activations with ranges taken over the whole batch, so pairs merged with another
        request's would score differently (by up to 5e-4 in development) and rankings could
        flip. Queued on one thread, concurrent requests no longer fight over the cores."""
        return [self.scorer.score(context, texts) for context, texts in requests]
