"""Serving: load a recommender folder and answer "k items for user U", with the reason for each.

``Recommender`` puts the parts together and owns nothing but the request path:

- ``state`` (``ServingState``): catalogue, index, histories, popularity, co-occurrence, the
  readers-writer lock, the answer cache and the online updates;
- ``pool`` (``CandidatePool``): profiles and candidate generation, FAISS micro-batches;
- ``scoring`` (``CandidateScoring``): features, the prefilter shortlist, the segment blends;
- ``rankers``: one per mode (``RANKERS``), and ``explainer``: the reason for each pick.

Many requests at once: reads share the lock (a new interaction takes it alone); answers are
cached per user until that user's next interaction; a web worker that did not take a
``POST /interactions`` itself reads it from the folder's store before its next answer.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

from recommender.data import Interaction, Item
from recommender.index import ItemIndex
from recommender.model.config import MAX_K, MODEL_FILE, MODES, SCOPES, FitConfig, RecommenderError
from recommender.model.explain import Explainer
from recommender.model.features import CandidateScoring
from recommender.model.pool import CandidatePool, UserCandidates
from recommender.model.rankers import RANKERS, PopularityRanker
from recommender.model.state import ServingState
from recommender.ranking import Blend
from recommender.scorer import RelevanceScorer
from recommender.segments import SegmentedBlend
from recommender.store import STORE_FILE, Store
from shared.model_dir import ModelFolderError

def _part(owner: str, name: str, *, writable: bool = False) -> property:
    """An attribute of one of the parts, readable on the model (``model.histories`` is
    ``model.state.histories``): callers keep one handle, the parts keep the code."""
    def get(self):
        return getattr(getattr(self, owner), name)

    def put(self, value):
        setattr(getattr(self, owner), name, value)

    return property(get, put if writable else None, doc=f"``{owner}.{name}``")


class Recommender:
    """A loaded recommender folder: ``recommend`` answers, the online updates grow it."""

    items = _part("state", "items")
    index = _part("state", "index")
    config = _part("state", "config")
    store = _part("state", "store")
    histories = _part("state", "histories")
    popularity = _part("state", "popularity")
    cooccurrence = _part("state", "cooccurrence")
    cache = _part("state", "cache")
    encoder = _part("state", "encoder")
    new_items = _part("state", "new_items")
    segment = _part("state", "segment")
    refresh = _part("state", "refresh")
    add_interaction = _part("state", "add_interaction")
    add_items = _part("state", "add_items")
    remove_items = _part("state", "remove_items")
    features = _part("scoring", "features")
    shortlist = _part("scoring", "shortlist")
    segments_of = _part("scoring", "segments_of")
    scorer = _part("scoring", "scorer", writable=True)
    blend = _part("scoring", "blend", writable=True)
    prefilter = _part("scoring", "prefilter", writable=True)

    def __init__(self, items: Iterable[Item], index: ItemIndex, interactions: Iterable[Interaction],
                 config: FitConfig, *, blend: Blend | SegmentedBlend | None = None,
                 prefilter: Blend | SegmentedBlend | None = None, scorer: RelevanceScorer | None = None,
                 encoder_ref: str | None = None, store: Store | None = None, folder: Path | None = None,
                 cache_ttl_s: float = 60.0, store_seq: int | None = None):
        self.state = ServingState(items, index, interactions, config, store=store, folder=folder,
                                  cache_ttl_s=cache_ttl_s, store_seq=store_seq, encoder_ref=encoder_ref)
        self.pool = CandidatePool(self.state)
        self.scoring = CandidateScoring(self.state, blend=blend, prefilter=prefilter, scorer=scorer)
        self.rankers = {mode: ranker(self.state, self.pool, self.scoring) for mode, ranker in RANKERS.items()}
        self.explainer = Explainer(self.state)

    @classmethod
    def load(cls, folder: str | Path, *, threads: int | None = 1, cache_ttl_s: float = 60.0,
             store_url: str | None = None) -> "Recommender":
        """A folder written by ``fit`` (or grown since), with its whole interaction log; with
        ``store_url`` the catalogue and log live on that database (filled from the folder's
        store the first time)."""
        folder = Path(folder)
        manifest = folder / MODEL_FILE
        if not manifest.is_file():
            raise ModelFolderError(f"{folder} is not a recommender folder (no {MODEL_FILE}); "
                                   "create one with `nlpsuite recommender fit`")
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        for key in ("index", "scorer", "segments", "prefilter_segments", "blend", "prefilter"):
            if meta.get(key) and not (folder / meta[key]).exists():
                raise ModelFolderError(f"{folder / meta[key]} is missing: the recommender folder is incomplete; "
                                       "fit it again with `nlpsuite recommender fit --force`")
        store = Store(folder / STORE_FILE)
        if store_url:
            shared_store = Store(store_url)
            shared_store.adopt(store)
            store.close()
            store = shared_store
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
        return cls(store.items(), ItemIndex.load(folder / meta["index"]), rows, FitConfig.from_dict(meta["config"]),
                   blend=blend, prefilter=prefilter, scorer=scorer, encoder_ref=encoder_ref,
                   store=store, folder=folder, cache_ttl_s=cache_ttl_s, store_seq=seq)

    def candidates(self, user: str, n: int | None = None, scope: str = "all") -> UserCandidates:
        """The candidate pool for a known user (fitting and tests read it)."""
        return self.pool.gather(self.state.history(user), n, scope=scope)

    def candidates_of(self, history: Sequence[Interaction], n: int | None = None, *, scope: str = "all",
                      ticket=None) -> UserCandidates:
        """The candidate pool for any history (fitting passes a held-out one)."""
        return self.pool.gather(history, n, scope=scope, ticket=ticket)

    def recommend(self, user: str, k: int = 10, mode: str = "full", scope: str = "all") -> dict:
        """The ``k`` best unseen items for ``user``, each with a score and a reason.

        ``scope="new"`` ranks only items nobody has interacted with yet ("new for you"). The
        answer is ranked ``candidates`` deep and cached; reasons are written for the ``k``
        asked, and a later, longer request on the cached answer adds the missing ones."""
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise RecommenderError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        if mode not in MODES:
            raise RecommenderError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if scope not in SCOPES:
            raise RecommenderError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        self.state.refresh()
        cached = self.state.cache.get(user, mode, scope, k)
        hit = cached is not None
        if not hit or cached[_EXPLAINED] < min(k, len(cached["items"])):
            with self.state.lock.reading():
                if hit and self.state.cache.get(user, mode, scope, k, count_miss=False) is not cached:
                    hit = False  # the catalogue or the user's history changed since: rank again
                if not hit:
                    cached = self._answer(user, max(k, self.state.config.candidates), mode, scope)
                self._explain(cached, k)
        if not hit:
            self.state.cache.put(user, mode, scope, cached)
        return _shaped(cached, k, hit=hit)

    def cached_answer(self, user: str, k: int = 10, mode: str = "full", scope: str = "all") -> dict | None:
        """The answer ``recommend`` would give, if it is cached with its ``k`` reasons and nothing
        new is in the store; else None. A dictionary lookup and a ``stat``: cheap enough for an
        event loop."""
        if not self.state.is_current():
            return None  # another worker wrote: ``recommend`` refreshes first
        cached = self.state.cache.get(user, mode, scope, k, count_miss=False)  # ``recommend`` counts it
        if cached is None or cached[_EXPLAINED] < min(k, len(cached["items"])):
            return None
        return _shaped(cached, k, hit=True)

    def _answer(self, user: str, depth: int, mode: str, scope: str) -> dict:
        """The ranked answer for ``user`` ``depth`` items deep, reasons not yet written (the
        cache keeps it). A FAISS batch forming meanwhile waits (a few ms at most) for this
        request's ticket."""
        batching = self.state.config.batch_index_search and mode == "full" and scope == "all"
        ticket = self.pool.index_batcher.expect() if batching else None
        history = self.state.history(user)
        ranker = self.rankers[mode]
        try:
            ranking = ranker.rank(history, depth, scope, ticket)
        finally:
            if ticket is not None:
                ticket.cancel()
        cold_start = ranking is None
        if cold_start:  # no profile: what everyone likes
            ranker = self.rankers["popularity"]
            ranking = ranker.rank(history, depth, scope)
        cold_start = cold_start or (isinstance(ranker, PopularityRanker) and not history)
        entries = [{"item": item, "title": self.state.items[item].title, "score": round(float(score), 6),
                    "reason": None, "because": None} for item, score in zip(ranking.items, ranking.scores)]
        return {"user": user, "mode": mode, "scope": scope, "history_size": len(history),
                "cold_start": cold_start, "complete": ranking.complete, "items": entries,
                _EXPLAINED: 0, _RANKING: (ranker, ranking.kept())}

    def _explain(self, answer: dict, k: int) -> None:
        """Reasons for the answer's first ``k`` picks, where they are missing: explaining costs
        about as much per pick as ranking, and most requests read only the first ten of fifty."""
        done, stop = answer[_EXPLAINED], min(k, len(answer["items"]))
        if done >= stop:
            return
        ranker, ranking = answer[_RANKING]
        for entry, (reason, because) in zip(answer["items"][done:stop],
                                            self.explainer.reasons(ranker, ranking.part(done, stop))):
            entry["reason"], entry["because"] = reason, because
        answer[_EXPLAINED] = max(answer[_EXPLAINED], stop)  # another reader may have gone deeper


_EXPLAINED, _RANKING = "_explained", "_ranking"  # the cached answer's own bookkeeping, never returned
_PRIVATE = {"complete", _EXPLAINED, _RANKING}


def _shaped(answer: dict, k: int, *, hit: bool) -> dict:
    """A cached ranked answer cut to ``k`` items, as ``recommend`` returns it."""
    return {**{key: v for key, v in answer.items() if key not in _PRIVATE},
            "items": [dict(entry) for entry in answer["items"][:k]], "cached": hit}
