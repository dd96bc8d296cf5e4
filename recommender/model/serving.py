"""Serving: load a recommender folder and answer "k items for user U" through the cascade
(candidates, prefilter, scorer, blend), with the reason for each item.

Many requests at once: reads share a readers-writer lock (a new interaction takes it alone);
answers are cached per user until that user's next interaction; concurrent requests' FAISS
searches and scorer passes run as micro-batches (``shared.inference.batching``); and a web
worker that did not take a ``POST /interactions`` itself reads it from the folder's store
before its next answer (``refresh``), so every worker answers from the same log.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Collection, Iterable, Sequence

import numpy as np

from recommender.candidates import Candidate, generate_candidates
from recommender.cooccurrence import CoOccurrence
from recommender.data import Interaction, Item
from recommender.index import ItemIndex
from recommender.model.concurrency import AnswerCache, ReadWriteLock
from recommender.model.config import MAX_K, MODEL_FILE, MODES, SCOPES, FitConfig, RecommenderError
from recommender.model.updates import OnlineUpdates
from recommender.profiles import Popularity, item_weights, profile_vector
from recommender.ranking import FEATURES, Blend
from recommender.scorer import RelevanceScorer, context_text
from recommender.segments import SegmentedBlend, segment_of
from recommender.store import STORE_FILE, Store
from shared.inference.batching import MicroBatcher

logger = logging.getLogger("recommender.model")
POPULAR_REASON = "popular with other users"
INDEX_BATCH = 16  # below FAISS's BLAS threshold (20 queries): a batch scores bit-for-bit like one query


class Recommender(OnlineUpdates):
    """Serving state: items, index, per-user history, popularity, scorer and the segment blends."""

    def __init__(self, items: Iterable[Item], index: ItemIndex, interactions: Iterable[Interaction],
                 config: FitConfig, *, blend: Blend | SegmentedBlend | None = None,
                 prefilter: Blend | SegmentedBlend | None = None, scorer: RelevanceScorer | None = None,
                 encoder_ref: str | None = None, store: Store | None = None, folder: Path | None = None,
                 cache_ttl_s: float = 60.0, store_seq: int | None = None):
        self.items = {item.id: item for item in items}
        self.index = index
        self.config = config
        self.blend = blend
        self.prefilter = prefilter or Blend(weights={"similarity": 1.0, "popularity": 1.0, "cooccurrence": 1.0})
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
        self.lock = ReadWriteLock()
        self.cache = AnswerCache(ttl_s=cache_ttl_s)
        self._new_items: tuple[list[str], np.ndarray] | None = None
        self._store_seq = store_seq if store_seq is not None else (store.last_seq() if store is not None else 0)
        self._store_signature = store.signature() if store is not None else None
        self._index_batcher = MicroBatcher(self._search_batch, max_batch=INDEX_BATCH, max_wait_ms=2, name="faiss")
        self._scorer_batcher = MicroBatcher(self._score_batch, max_batch=16, max_wait_ms=0, name="scorer")

    # the blends are segmented; a plain Blend (tests, folders from before segments) counts for all
    @property
    def blend(self) -> SegmentedBlend:
        return self._blend

    @blend.setter
    def blend(self, value) -> None:
        self._blend = value if isinstance(value, SegmentedBlend) else SegmentedBlend.uniform(value or Blend())

    @property
    def prefilter(self) -> SegmentedBlend:
        return self._prefilter

    @prefilter.setter
    def prefilter(self, value) -> None:
        self._prefilter = value if isinstance(value, SegmentedBlend) else SegmentedBlend.uniform(value)

    def _remember(self, row: Interaction) -> None:
        if not self.popularity.counts.get(row.item):
            self._new_items = None  # the item is no longer new
        self.histories[row.user].append(row)
        self.popularity.add(row)
        self.cooccurrence.add(row.user, row.item)
        self.cache.forget_user(row.user)

    def refresh(self) -> int:
        """Apply interactions another process (another web worker) wrote to the store since
        this one last looked; a stat when nothing changed. Returns how many rows it applied."""
        if self.store is None or self.store.signature() == self._store_signature:
            return 0
        with self.lock.writing():
            signature = self.store.signature()
            rows, self._store_seq = self.store.interactions_since(self._store_seq)
            for row in rows:
                if row.item in self.items:
                    self._remember(row)
            self._store_signature = signature
        return len(rows)

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, folder: str | Path, *, threads: int | None = 1, cache_ttl_s: float = 60.0) -> "Recommender":
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
        if meta.get("segments"):
            blend = SegmentedBlend.load(folder / meta["segments"])
            prefilter = SegmentedBlend.load(folder / meta["prefilter_segments"])
        else:  # fitted before segments: one blend for every pair
            blend = Blend.load(folder / meta["blend"])
            prefilter = Blend.load(folder / meta["prefilter"]) if meta.get("prefilter") else None
        rows, seq = store.interactions_since(0)  # the log and its newest number in one read
        return cls(store.items(), ItemIndex.load(folder / meta["index"]), rows, config,
                   blend=blend, prefilter=prefilter, scorer=scorer, encoder_ref=encoder_ref,
                   store=store, folder=folder, cache_ttl_s=cache_ttl_s, store_seq=seq)

    @property
    def encoder(self):
        """The bi-encoder, loaded on first use (only adding items needs it at serving time)."""
        if self._encoder is None:
            from recommender.embed import ItemEncoder

            self._encoder = ItemEncoder(self.encoder_ref, threads=self.config.threads,
                                        max_length=self.config.max_length)
        return self._encoder

    # -- batched backends -------------------------------------------------------------------
    def _search_batch(self, requests: Sequence[tuple[np.ndarray, int, frozenset]]) -> list:
        """FAISS for several requests at once: one search over all their profiles, deep enough
        that each request's own exclusions still leave its ``n`` best."""
        queries = np.vstack([profile for profile, _, _ in requests])
        depth = min(len(self.index), max(n + len(seen) for _, n, seen in requests))
        found = self.index.search(queries, depth)
        return [[(item, score) for item, score in row if item not in seen][:n]
                for row, (_, n, seen) in zip(found, requests)]

    def _score_batch(self, requests: Sequence[tuple[str, list[str]]]) -> list[np.ndarray]:
        """The scorer for several requests, one after another on the scorer's worker thread.

        Each request's pairs stay one onnxruntime batch of their own: the int8 graph quantizes
        its activations with ranges taken over the whole batch, so pairs merged with another
        request's would score differently (by up to 5e-4 in development) and rankings could
        flip. Queued on one thread, concurrent requests no longer fight over the cores."""
        return [self.scorer.score(context, texts) for context, texts in requests]

    def _search(self, profile: np.ndarray, n: int, seen: set[str], ticket=None) -> list[tuple[str, float]]:
        """The ``n`` nearest unseen items; through the FAISS batcher (on ``ticket`` when this
        request announced itself) unless the exclusions are a large part of the catalogue."""
        if len(seen) > len(self.index) // 2:  # most of the catalogue excluded: the in-FAISS selector is cheaper
            if ticket is not None:
                ticket.cancel()
            return self.index.search(profile, n, exclude=seen)[0]
        if not self.config.batch_index_search:
            if ticket is not None:
                ticket.cancel()
            return self.index.search(profile, n, exclude=seen)[0]
        request = (profile, n, frozenset(seen))
        return ticket.submit(request).result() if ticket is not None else self._index_batcher(request)

    # -- recommending -----------------------------------------------------------------------
    def segment(self, user_items: int, item: str) -> str:
        """``warm``, ``cold_item`` or ``sparse_user`` (see recommender.segments)."""
        return segment_of(user_items, self.popularity.counts.get(item, 0))

    def new_items(self) -> tuple[list[str], np.ndarray]:
        """Items in the index that nobody has interacted with yet, and their vectors."""
        if self._new_items is None:
            ids = [i for i in self.items if i in self.index and not self.popularity.counts.get(i)]
            self._new_items = (ids, self.index.vectors(ids))
        return self._new_items

    def _new_candidates(self, profile: np.ndarray, seen: set[str], n: int,
                        exclude: Collection[str] = ()) -> list[Candidate]:
        """The ``n`` new items nearest to the profile: only text can find them."""
        ids, vectors = self.new_items()
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

    def _profile(self, user: str):
        return self._profile_of(self.histories.get(user, []))

    def _profile_of(self, history: Sequence[Interaction]):
        weights = {i: w for i, w in item_weights(history, self.config.profile).items() if i in self.index}
        vectors = self.index.vectors(list(weights))
        return weights, vectors, profile_vector(weights, vectors)

    def candidates(self, user: str, n: int | None = None, scope: str = "all"):
        return self.candidates_of(self.histories.get(user, []), n, scope=scope)

    def candidates_of(self, history: Sequence[Interaction], n: int | None = None, *, scope: str = "all",
                      ticket=None):
        """(item weights, their vectors, profile, candidate pool) for a history.

        The pool: FAISS neighbours, popular items, items co-occurring with the history, and a
        slice of new items (``new_share``) nearest to the profile; with ``scope="new"``, new
        items only."""
        weights, vectors, profile = self._profile_of(history)
        if profile is None:
            return weights, vectors, None, []
        seen = {row.item for row in history}
        n = n or self.config.pool
        if scope == "new":
            found = self._new_candidates(profile, seen, n)
        else:
            found = generate_candidates(profile, self.index, seen, self.popularity, n, self.config.popular_share,
                                        search=lambda p, k, s: self._search(p, k, s, ticket))
            taken = {c.item for c in found}
            co_scores = self.cooccurrence.scores(weights)
            extra = self.cooccurrence.top(co_scores, int(round(n * self.config.cooccurrence_share)),
                                          exclude=seen | taken, allowed=self.index)
            if extra:
                similarities = self.index.vectors([item for item, _ in extra]) @ profile
                found += [Candidate(item, float(sim), "cooccurrence") for (item, _), sim in zip(extra, similarities)]
                taken.update(item for item, _ in extra)
            found += self._new_candidates(profile, seen, int(round(n * self.config.new_share)), exclude=taken)
            for c in found:
                c.cooccurrence = self.cooccurrence.score_of(co_scores, c.item)
        return weights, vectors, profile, found

    def segments_of(self, weights: dict, candidates: Sequence[Candidate]) -> list[str]:
        return [self.segment(len(weights), c.item) for c in candidates]

    def features(self, weights: dict, candidates: Sequence[Candidate], *, scorer: bool | Sequence[bool] = True,
                 ) -> np.ndarray:
        """One row per candidate, columns in ranking.FEATURES order. ``scorer``: whether to
        run the scorer, for all candidates or per candidate (its column is 0 where not run)."""
        matrix = np.zeros((len(candidates), len(FEATURES)), dtype=np.float64)
        if not candidates:
            return matrix
        wanted = [scorer] * len(candidates) if isinstance(scorer, bool) else list(scorer)
        rows = [n for n, w in enumerate(wanted) if w]
        if rows and self.scorer is not None:
            context = context_text(list(weights), self.items, self.config.profile.context_items)
            texts = [self.items[candidates[n].item].text for n in rows]
            matrix[rows, 0] = self._scorer_batcher((context, texts))
        half_life = self.config.profile.half_life_days
        for row, c in enumerate(candidates):
            matrix[row, 1:] = (c.similarity, self.popularity.score(c.item), self.popularity.recency(c.item, half_life),
                               c.cooccurrence)
        return matrix

    def shortlist(self, weights: dict, pool: Sequence[Candidate], n: int) -> list[Candidate]:
        """The ``n`` best of the pool by the prefilter blends (no scorer): what the scorer reranks."""
        if len(pool) <= n:
            return list(pool)
        cheap = self.prefilter.score(self.features(weights, pool, scorer=False), self.segments_of(weights, pool))
        return [pool[i] for i in np.argsort(-cheap, kind="stable")[:n]]

    def recommend(self, user: str, k: int = 10, mode: str = "full", scope: str = "all") -> dict:
        """The ``k`` best unseen items for ``user``, each with a score and a reason.

        ``scope="new"`` ranks only items nobody has interacted with yet ("new for you")."""
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise RecommenderError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        if mode not in MODES:
            raise RecommenderError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if scope not in SCOPES:
            raise RecommenderError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        self.refresh()
        cached = self.cache.get(user, mode, scope, k)
        if cached is None:
            with self.lock.reading():
                cached = self._answer(user, max(k, self.config.candidates), mode, scope)
            self.cache.put(user, mode, scope, cached)
            return _shaped(cached, k, hit=False)
        return _shaped(cached, k, hit=True)

    def cached_answer(self, user: str, k: int = 10, mode: str = "full", scope: str = "all") -> dict | None:
        """The answer ``recommend`` would give, if it is cached and nothing new is in the store;
        else None. A dictionary lookup and a ``stat``: cheap enough for an event loop."""
        if self.store is not None and self.store.signature() != self._store_signature:
            return None  # another worker wrote: ``recommend`` refreshes first
        cached = self.cache.get(user, mode, scope, k, count_miss=False)  # ``recommend`` counts it
        return None if cached is None else _shaped(cached, k, hit=True)

    def _answer(self, user: str, depth: int, mode: str, scope: str) -> dict:
        """The ranked answer for ``user`` ``depth`` items deep (the cache keeps it). A FAISS
        batch forming meanwhile waits (a few ms at most) for this request's ticket."""
        batching = self.config.batch_index_search and mode == "full" and scope == "all"
        ticket = self._index_batcher.expect() if batching else None
        try:
            return self._ranked(user, depth, mode, scope, ticket)
        finally:
            if ticket is not None:
                ticket.cancel()

    def _ranked(self, user: str, depth: int, mode: str, scope: str, ticket) -> dict:
        history = self.histories.get(user, [])
        seen = {row.item for row in history}
        if mode == "popularity":
            weights, vectors, profile, found = {}, None, None, []
        elif mode in ("retrieval", "cooccurrence"):
            (weights, vectors, profile), found = self._profile(user), []
        else:
            weights, vectors, profile, pool = self.candidates_of(history, max(depth, self.config.pool), scope=scope,
                                                                 ticket=ticket)
            found = self.shortlist(weights, pool, depth)
        base = {"user": user, "mode": mode, "scope": scope, "history_size": len(history)}
        if profile is None:
            allowed = set(self.new_items()[0]) if scope == "new" else self.index
            ranked = self.popularity.ranked(exclude=seen, limit=depth, allowed=allowed)
            if len(ranked) < depth:  # a young catalogue, or new items: the never-interacted ones
                have = seen | {i for i, _ in ranked}
                ranked += [(i, 0) for i in self.items if i not in have and i in allowed][: depth - len(ranked)]
            cold = mode != "popularity" or not history
            return base | {"cold_start": cold, "complete": len(ranked) < depth, "items": [
                self._entry(item, float(count), POPULAR_REASON, None) for item, count in ranked]}
        if mode == "retrieval":  # FAISS alone: the nearest unseen items to the profile
            if scope == "new":
                ordered = self._new_candidates(profile, seen, depth)
            else:
                ordered = [Candidate(i, s, "index") for i, s in self.index.search(profile, depth, exclude=seen)[0]]
            scores = [c.similarity for c in ordered]
        elif mode == "cooccurrence":  # behaviour alone: EASE (or Jaccard) scores of the history
            co_scores = self.cooccurrence.scores(weights)
            allowed = set(self.new_items()[0]) if scope == "new" else self.index
            top = self.cooccurrence.top(co_scores, depth, exclude=seen, allowed=allowed)
            if len(top) < depth:  # nothing co-occurs: the rest in catalogue order, score 0
                have = seen | {i for i, _ in top}
                top += [(i, 0.0) for i in self.items if i not in have and i in allowed][: depth - len(top)]
            ordered = [Candidate(i, 0.0, "cooccurrence", s) for i, s in top]
            scores = [c.cooccurrence for c in ordered]
        else:
            segments = self.segments_of(weights, found)
            needs_scorer = [self.blend.uses("scorer", segment) for segment in segments]
            features = self.features(weights, found, scorer=needs_scorer)
            blended = self.blend.score(features, segments)
            order = np.argsort(-blended, kind="stable")[:depth]
            ordered, scores = [found[i] for i in order], [float(blended[i]) for i in order]
        reasons = self._reasons(weights, vectors, [c.item for c in ordered])
        entries = [self._entry(c.item, score, *reason) for c, score, reason in zip(ordered, scores, reasons)]
        return base | {"cold_start": False, "complete": len(entries) < depth, "items": entries}

    def _reasons(self, weights: dict, vectors: np.ndarray, chosen: list[str]) -> list[tuple[str, str]]:
        """The history item that contributed most to each pick: weight x similarity. A new item
        (no interactions yet) can only have been found by its text, and its reason says so."""
        if not chosen:
            return []
        weight = np.fromiter(weights.values(), dtype=np.float32)
        similarity = vectors @ self.index.vectors(chosen).T
        contribution = weight[:, None] * similarity
        # for a new item, the nearest of the items the user weighs most (the upper half): "similar
        # to X" should name the liked item it is most like, not the one with the most weight
        strong = weight >= np.median(weight)
        nearest = np.where(strong[:, None], similarity, -np.inf).argmax(axis=0)
        history = list(weights)
        out = []
        for n, item in enumerate(chosen):
            if self.popularity.counts.get(item):
                liked = history[int(contribution[:, n].argmax())]
                out.append((f"because you liked {self.items[liked].title}", liked))
            else:
                liked = history[int(nearest[n])]
                out.append((f"new: similar to {self.items[liked].title}, which you liked", liked))
        return out

    def _entry(self, item: str, score: float, reason: str, because: str | None) -> dict:
        return {"item": item, "title": self.items[item].title, "score": round(float(score), 6),
                "reason": reason, "because": because}


def _shaped(answer: dict, k: int, *, hit: bool) -> dict:
    """A cached ranked answer cut to ``k`` items, as ``recommend`` returns it."""
    return {**{key: v for key, v in answer.items() if key != "complete"}, "items": answer["items"][:k],
            "cached": hit}
