"""Serving: load a recommender folder and answer "k items for user U" through the cascade
(candidates, prefilter, scorer, blend), with the reason for each item."""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from recommender.candidates import Candidate, generate_candidates
from recommender.cooccurrence import CoOccurrence
from recommender.data import Interaction, Item
from recommender.index import ItemIndex
from recommender.model.config import MAX_K, MODEL_FILE, MODES, FitConfig, RecommenderError
from recommender.model.updates import OnlineUpdates
from recommender.profiles import Popularity, item_weights, profile_vector
from recommender.ranking import FEATURES, Blend
from recommender.scorer import RelevanceScorer, context_text
from recommender.store import STORE_FILE, Store

logger = logging.getLogger("recommender.model")


class Recommender(OnlineUpdates):
    """Serving state: items, index, per-user history, popularity, scorer and blend."""

    def __init__(self, items: Iterable[Item], index: ItemIndex, interactions: Iterable[Interaction],
                 config: FitConfig, *, blend: Blend | None = None, prefilter: Blend | None = None,
                 scorer: RelevanceScorer | None = None,
                 encoder_ref: str | None = None, store: Store | None = None, folder: Path | None = None):
        self.items = {item.id: item for item in items}
        self.index = index
        self.config = config
        self.blend = blend or Blend()
        self.prefilter = prefilter or Blend(weights={"similarity": 1.0, "popularity": 1.0,
                                                                "cooccurrence": 1.0})
        self.scorer = scorer
        self.encoder_ref = encoder_ref or config.encoder
        self._encoder = None
        self.store = store
        self.folder = folder
        self.histories: dict[str, list[Interaction]] = defaultdict(list)
        self.popularity = Popularity()
        for row in interactions:
            self.histories[row.user].append(row)
            self.popularity.add(row)
        self.cooccurrence = CoOccurrence.from_histories(self.items, self.histories)

    def _remember(self, row: Interaction) -> None:
        self.histories[row.user].append(row)
        self.popularity.add(row)
        self.cooccurrence.add(row.user, row.item)

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, folder: str | Path, *, threads: int | None = 1) -> "Recommender":
        folder = Path(folder)
        manifest = folder / MODEL_FILE
        if not manifest.is_file():
            raise FileNotFoundError(f"{folder} is not a recommender folder (no {MODEL_FILE}); "
                                    "create one with `nlpsuite recommender fit`")
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        config = FitConfig.from_dict(meta["config"])
        store = Store(folder / STORE_FILE)
        scorer = RelevanceScorer(folder / meta["scorer"], threads=threads) if meta.get("scorer") else None
        encoder_ref = meta["encoder"]
        if (folder / encoder_ref).is_dir():
            encoder_ref = str(folder / encoder_ref)
        return cls(store.items(), ItemIndex.load(folder / meta["index"]), store.interactions(), config,
                   blend=Blend.load(folder / meta["blend"]),
                   prefilter=Blend.load(folder / meta["prefilter"]) if meta.get("prefilter") else None,
                   scorer=scorer, encoder_ref=encoder_ref,
                   store=store, folder=folder)

    @property
    def encoder(self):
        """The bi-encoder, loaded on first use (only adding items needs it at serving time)."""
        if self._encoder is None:
            from recommender.embed import ItemEncoder

            self._encoder = ItemEncoder(self.encoder_ref, threads=self.config.threads,
                                        max_length=self.config.max_length)
        return self._encoder

    # -- recommending -----------------------------------------------------------------------
    def known_user(self, user: str) -> bool:
        return bool(self.histories.get(user))

    def _profile(self, user: str):
        return self._profile_of(self.histories.get(user, []))

    def _profile_of(self, history: Sequence[Interaction]):
        weights = {i: w for i, w in item_weights(history, self.config.profile).items() if i in self.index}
        vectors = self.index.vectors(list(weights))
        return weights, vectors, profile_vector(weights, vectors)

    def candidates(self, user: str, n: int | None = None) -> tuple[dict, np.ndarray, np.ndarray | None, list[Candidate]]:
        return self.candidates_of(self.histories.get(user, []), n)

    def candidates_of(self, history: Sequence[Interaction], n: int | None = None):
        """(item weights, their vectors, profile, candidate pool) for a history."""
        weights, vectors, profile = self._profile_of(history)
        if profile is None:
            return weights, vectors, None, []
        seen = {row.item for row in history}
        n = n or self.config.pool
        found = generate_candidates(profile, self.index, seen, self.popularity, n, self.config.popular_share)
        co_scores = self.cooccurrence.scores(weights)
        taken = {c.item for c in found}
        extra = self.cooccurrence.top(co_scores, int(round(n * self.config.cooccurrence_share)),
                                      exclude=seen | taken, allowed=self.index)
        if extra:
            similarities = self.index.vectors([item for item, _ in extra]) @ profile
            found += [Candidate(item, float(sim), "cooccurrence") for (item, _), sim in zip(extra, similarities)]
        for c in found:
            c.cooccurrence = self.cooccurrence.score_of(co_scores, c.item)
        return weights, vectors, profile, found

    def features(self, weights: dict, candidates: Sequence[Candidate], *, scorer: bool = True) -> np.ndarray:
        """One row per candidate, columns in ranking.FEATURES order (scorer column 0 without it)."""
        matrix = np.zeros((len(candidates), len(FEATURES)), dtype=np.float64)
        if not candidates:
            return matrix
        if scorer and self.scorer is not None:
            context = context_text(list(weights), self.items, self.config.profile.context_items)
            matrix[:, 0] = self.scorer.score(context, [self.items[c.item].text for c in candidates])
        half_life = self.config.profile.half_life_days
        for row, c in enumerate(candidates):
            matrix[row, 1:] = (c.similarity, self.popularity.score(c.item), self.popularity.recency(c.item, half_life),
                               c.cooccurrence)
        return matrix

    def shortlist(self, weights: dict, pool: Sequence[Candidate], n: int) -> list[Candidate]:
        """The ``n`` best of the pool by the prefilter blend (no scorer): what the scorer reranks."""
        if len(pool) <= n:
            return list(pool)
        cheap = self.prefilter.score(self.features(weights, pool, scorer=False))
        return [pool[i] for i in np.argsort(-cheap, kind="stable")[:n]]

    def recommend(self, user: str, k: int = 10, mode: str = "full") -> dict:
        """The ``k`` best unseen items for ``user``, each with a score and a reason."""
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise RecommenderError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        if mode not in MODES:
            raise RecommenderError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        history = self.histories.get(user, [])
        if mode == "popularity":
            weights, vectors, profile, found = {}, None, None, []
        elif mode == "retrieval":
            (weights, vectors, profile), found = self._profile(user), []
        else:
            weights, vectors, profile, pool = self.candidates(user, max(k, self.config.pool))
            found = self.shortlist(weights, pool, max(k, self.config.candidates))
        if profile is None:
            seen = {row.item for row in history}
            ranked = self.popularity.ranked(exclude=seen, limit=k, allowed=self.index)
            if len(ranked) < k:  # a young catalogue: fill with never-interacted items
                have = seen | {i for i, _ in ranked}
                ranked += [(i, 0) for i in self.items if i not in have and i in self.index][: k - len(ranked)]
            cold = mode != "popularity" or not history
            return {"user": user, "mode": "popularity" if mode == "popularity" else mode, "cold_start": cold,
                    "history_size": len(history), "items": [
                        self._entry(item, float(count), "popular with other users", None) for item, count in ranked]}
        if mode == "retrieval":  # FAISS alone: the k nearest unseen items to the profile
            seen = {row.item for row in history}
            ordered = [Candidate(i, s, "index") for i, s in self.index.search(profile, k, exclude=seen)[0]]
            scores = [c.similarity for c in ordered]
        else:
            blended = self.blend.score(self.features(weights, found))
            order = np.argsort(-blended, kind="stable")[:k]
            ordered, scores = [found[i] for i in order], [float(blended[i]) for i in order]
        reasons = self._reasons(weights, vectors, [c.item for c in ordered])
        entries = [self._entry(c.item, score, *reason) for c, score, reason in zip(ordered, scores, reasons)]
        return {"user": user, "mode": mode, "cold_start": False, "history_size": len(history), "items": entries}

    def _reasons(self, weights: dict, vectors: np.ndarray, chosen: list[str]) -> list[tuple[str, str]]:
        """The history item that contributed most to each pick: weight x similarity."""
        if not chosen:
            return []
        contribution = np.fromiter(weights.values(), dtype=np.float32)[:, None] * (vectors @ self.index.vectors(chosen).T)
        history = list(weights)
        out = []
        for column in contribution.argmax(axis=0):
            liked = history[int(column)]
            out.append((f"because you liked {self.items[liked].title}", liked))
        return out

    def _entry(self, item: str, score: float, reason: str, because: str | None) -> dict:
        return {"item": item, "title": self.items[item].title, "score": round(float(score), 6),
                "reason": reason, "because": because}
