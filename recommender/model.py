"""Fit a recommender folder from a catalogue and a log, load it, and answer "k items for user U".

A recommender folder holds everything needed to serve, and nothing else:

    model.json        the fit configuration, file names and a fit report
    store.sqlite      items and the whole interaction log (grows with POST /interactions)
    index/            the FAISS index of item vectors and its id map
    encoder/          the fine-tuned bi-encoder (absent when the base encoder was used as is)
    scorer/           the relevance scorer as int8 ONNX (absent when fitted without one)
    prefilter.json    the pre-ranking weights (no scorer) fitted on validation
    blend.json        the final ranking weights fitted on validation

Serving is a cascade: a pool of candidates (FAISS neighbours of the profile, popular items
and items that co-occur with the history in other users' logs), pre-ranked by a cheap blend without the scorer (``prefilter.json``); the scorer
reranks the best ``candidates`` (50) of them and the final blend orders those.

Fitting: hold out a share of each user's interactions for validation; fine-tune the
bi-encoder on co-interaction pairs of the rest; embed and index every item; fit the
prefilter on the held-out rows; fine-tune the scorer on hidden-item positives and shortlist
negatives (``_scorer_cases``); fit the final blend on the held-out rows; save with the whole log.
"""
from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from recommender.candidates import Candidate, generate_candidates
from recommender.cooccurrence import CoOccurrence
from recommender.data import Interaction, Item, check_interaction
from recommender.index import ItemIndex
from recommender.profiles import Popularity, ProfileConfig, item_weights, profile_vector
from recommender.ranking import FEATURES, Blend, fit_blend
from recommender.scorer import RelevanceScorer, context_text
from recommender.store import STORE_FILE, Store, UnknownItemError
from shared.errors import NlpSuiteError

logger = logging.getLogger(__name__)

MODEL_FILE = "model.json"
MODES = ("full", "retrieval", "popularity")
MAX_K = 100


class RecommenderError(NlpSuiteError, ValueError):
    """A request the caller can fix (bad k, unknown item, bad event); HTTP 4xx, CLI exit 2."""


@dataclass
class FitConfig:
    encoder: str = "minilm-l6"
    """Registry name or folder of the bi-encoder (sentence-transformers)."""
    finetune_encoder: bool = True
    encoder_pairs: int = 5000
    encoder_epochs: float = 1.0
    encoder_batch_size: int = 32
    encoder_learning_rate: float = 2e-5
    scorer: bool = True
    scorer_base: str | None = None
    """Base of the cross-encoder; default: the fine-tuned bi-encoder (else ``encoder``)."""
    scorer_users: int = 300
    scorer_positives: int = 2
    scorer_negatives: int = 2
    scorer_epochs: float = 1.0
    scorer_learning_rate: float = 5e-5
    scorer_batch_size: int = 32
    scorer_max_steps: int = -1
    scorer_layers: int | None = 2
    """Keep only the first N encoder layers in the cross-encoder; None: all. Two layers rerank
    50 candidates in about 35 ms at 1 thread (all six: about 200 ms)."""
    max_length: int = 64
    candidates: int = 50
    """Candidates the relevance scorer reranks per request."""
    pool: int = 200
    """Candidates gathered first (FAISS + popular) and pre-ranked without the scorer."""
    popular_share: float = 0.3
    cooccurrence_share: float = 1.0
    """Extra pool candidates, as a share of ``pool``, from item co-occurrence with the history."""
    validation_share: float = 0.15
    validation_users: int = 1000
    index_kind: str = "auto"
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    seed: int = 42
    threads: int | None = None
    progress: bool = True

    def to_dict(self) -> dict:
        data = asdict(self)
        data["profile"] = self.profile.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "FitConfig":
        data = dict(data)
        profile = ProfileConfig(**data.pop("profile", {}))
        known = set(cls.__dataclass_fields__)
        return cls(profile=profile, **{k: v for k, v in data.items() if k in known})


class Recommender:
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

    # -- growing ----------------------------------------------------------------------------
    def add_interaction(self, row: Interaction) -> None:
        """Validate, persist (one transaction), then update the profile and popularity at once."""
        problem = check_interaction(row.user, row.item, row.event, self.items,
                                    tuple(self.config.profile.event_weights))
        if problem:
            raise RecommenderError(f"field {problem[0]!r}: {problem[1]}")
        if self.store is not None:
            try:
                self.store.add_interactions([row])
            except UnknownItemError as exc:
                raise RecommenderError(str(exc)) from exc
        self._remember(row)

    def add_items(self, items: Sequence[Item]) -> None:
        """Embed and index new (or changed) items without rebuilding the index."""
        if not items:
            return
        vectors = self.encoder.encode_items(items)
        self.index.add([i.id for i in items], vectors)
        for item in items:
            self.cooccurrence.add_item(item.id)
        if self.store is not None:
            self.store.add_items(items)
        self.items.update({i.id: i for i in items})
        self._save_index()

    def remove_items(self, ids: Sequence[str]) -> int:
        removed = self.index.remove(ids)
        if self.store is not None:
            self.store.remove_items(ids)
        for item_id in ids:
            self.items.pop(item_id, None)
            self.popularity.forget(item_id)
        self._save_index()
        return removed

    def _save_index(self) -> None:
        if self.folder is not None:
            self.index.save(self.folder / "index")


# -- fitting ---------------------------------------------------------------------------------
def holdout_split(interactions: Sequence[Interaction], share: float, seed: int, min_rows: int = 4,
                  ) -> tuple[list[Interaction], list[Interaction]]:
    """Per user with at least ``min_rows`` rows, a random ``share`` of them for validation."""
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for row in interactions:
        by_user[row.user].append(row)
    rng = random.Random(seed)
    kept, held = [], []
    for user in sorted(by_user):
        rows = list(by_user[user])
        n_held = int(len(rows) * share) if len(rows) >= min_rows else 0
        rng.shuffle(rows)
        held.extend(rows[:n_held])
        kept.extend(rows[n_held:])
    return kept, held


def _validation_features(model: Recommender, held: Sequence[Interaction], max_users: int, seed: int,
                         stage: str):
    """Features and labels (held-out interaction or not) of validation users' candidates:
    the whole pool without the scorer for ``stage="prefilter"``, the shortlist with it for "final"."""
    truth: dict[str, set[str]] = defaultdict(set)
    for row in held:
        truth[row.user].add(row.item)
    users = sorted(truth)
    random.Random(seed).shuffle(users)
    blocks, labels = [], []
    for user in users[:max_users]:
        weights, _, profile, found = model.candidates(user)
        if profile is None or not found:
            continue
        if stage == "final":
            found = model.shortlist(weights, found, model.config.candidates)
        blocks.append(model.features(weights, found, scorer=stage == "final"))
        labels.extend(int(c.item in truth[user]) for c in found)
    if not blocks:
        return np.zeros((0, len(FEATURES))), np.zeros(0, dtype=int)
    return np.vstack(blocks), np.asarray(labels)


def _scorer_cases(model: Recommender, config: FitConfig):
    """(context items, positives, negatives) per sampled user, made the way serving sees them.

    A fifth of the user's (training) history is hidden; the profile, pool and shortlist come
    from the rest. The hidden items are the positives (those the shortlist found first); the
    negatives are the shortlist's other items: the near misses the scorer has to tell apart.
    """
    rng = random.Random(config.seed)
    users = sorted(u for u, rows in model.histories.items() if len({r.item for r in rows}) >= 3)
    rng.shuffle(users)
    for user in users[: config.scorer_users]:
        items = sorted({row.item for row in model.histories[user]})
        rng.shuffle(items)
        hidden = set(items[: max(1, round(0.2 * len(items)))])
        rest = [row for row in model.histories[user] if row.item not in hidden]
        weights, _, profile, pool = model.candidates_of(rest)
        if profile is None:
            continue
        shortlist = [c.item for c in model.shortlist(weights, pool, config.candidates)]
        found = [i for i in shortlist if i in hidden]
        positives = (found + rng.sample(sorted(hidden - set(found)), len(hidden) - len(found)))[: config.scorer_positives]
        others = [i for i in shortlist if i not in hidden]
        negatives = rng.sample(others, min(len(others), config.scorer_negatives * len(positives)))
        yield list(weights), positives, negatives


def fit(items: Sequence[Item], interactions: Sequence[Interaction], out_dir: str | Path,
        config: FitConfig | None = None, *, overwrite: bool = False) -> Path:
    """Fit every part on ``interactions`` and write a recommender folder (see the module doc)."""
    from recommender.embed import ItemEncoder, co_interaction_pairs, finetune_encoder
    from recommender.scorer import scorer_examples, train_scorer

    config = config or FitConfig()
    out = Path(out_dir)
    if (out / MODEL_FILE).exists():
        if not overwrite:
            raise FileExistsError(f"{out} already holds a recommender; pass overwrite (--force) to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    catalogue = {item.id: item for item in items}
    unknown = sorted({row.item for row in interactions} - set(catalogue))
    if unknown:
        raise RecommenderError(f"{len(unknown)} interaction item(s) not in the catalogue: {', '.join(unknown[:5])}")
    report: dict = {"items": len(catalogue), "interactions": len(interactions),
                    "users": len({row.user for row in interactions})}
    started = time.perf_counter()
    kept, held = holdout_split(interactions, config.validation_share, config.seed)
    report["validation_interactions"] = len(held)

    encoder_ref = config.encoder
    if config.finetune_encoder:
        pairs = co_interaction_pairs(kept, max_pairs=config.encoder_pairs, seed=config.seed)
        report["encoder_pairs"] = len(pairs)
        if len(pairs) >= 2:
            finetune_encoder(config.encoder, catalogue, pairs, out / "encoder", epochs=config.encoder_epochs,
                             batch_size=config.encoder_batch_size, learning_rate=config.encoder_learning_rate,
                             max_length=config.max_length, seed=config.seed, threads=config.threads,
                             progress=config.progress)
            encoder_ref = "encoder"
    encoder = ItemEncoder(out / encoder_ref if encoder_ref == "encoder" else encoder_ref,
                          threads=config.threads, max_length=config.max_length)
    ordered = list(catalogue.values())
    index = ItemIndex.build([i.id for i in ordered], encoder.encode_items(ordered, progress=config.progress),
                            kind=config.index_kind, progress=config.progress)
    index.save(out / "index")
    report["index"] = index.kind

    model = Recommender(ordered, index, kept, config, encoder_ref=encoder_ref)
    features, labels = _validation_features(model, held, config.validation_users, config.seed, "prefilter")
    model.prefilter = fit_blend(features[:, 1:], labels, seed=config.seed, names=FEATURES[1:])
    model.prefilter.save(out / "prefilter.json")
    report["prefilter"] = model.prefilter.to_dict()
    scorer_dir = None
    if config.scorer:
        examples = scorer_examples(_scorer_cases(model, config), catalogue, config.profile.context_items)
        report["scorer_examples"] = len(examples)
        if len(set(examples.labels)) == 2 and len(examples) >= 10:
            base = config.scorer_base or (str(out / "encoder") if encoder_ref == "encoder" else config.encoder)
            train_scorer(examples, out / "scorer", base=base, epochs=config.scorer_epochs,
                         batch_size=config.scorer_batch_size, learning_rate=config.scorer_learning_rate,
                         max_length=config.max_length, threads=config.threads, seed=config.seed,
                         max_steps=config.scorer_max_steps, progress=config.progress,
                         layers=config.scorer_layers)
            scorer_dir = "scorer"
            model.scorer = RelevanceScorer(out / "scorer", threads=config.threads)
        else:
            logger.warning("too few scorer examples (%d); fitting without the relevance scorer", len(examples))

    features, labels = _validation_features(model, held, config.validation_users, config.seed, "final")
    blend = fit_blend(features if model.scorer else features[:, 1:], labels, seed=config.seed,
                      names=FEATURES if model.scorer else FEATURES[1:])
    blend.save(out / "blend.json")
    report["blend"] = blend.to_dict()

    store = Store(out / STORE_FILE)
    store.add_items(ordered)
    store.add_interactions(interactions, check_items=False)
    store.close()
    report["fit_seconds"] = round(time.perf_counter() - started, 1)
    meta = {"format_version": 1, "config": config.to_dict(), "encoder": encoder_ref, "scorer": scorer_dir,
            "index": "index", "prefilter": "prefilter.json", "blend": "blend.json", "store": STORE_FILE,
            "report": report}
    (out / MODEL_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    logger.info("recommender fitted in %.1f s -> %s", report["fit_seconds"], out)
    return out
