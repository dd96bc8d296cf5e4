"""Fitting a recommender folder: hold out validation rows, fine-tune the bi-encoder, embed and
index, fit the prefilter, fine-tune the scorer, fit the final blend, save with the whole log."""
from __future__ import annotations

import json
import logging
import random
import shutil
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from recommender.data import Interaction, Item
from recommender.index import ItemIndex
from recommender.model.config import MODEL_FILE, FitConfig, FolderExistsError, RecommenderError
from recommender.model.serving import Recommender
from recommender.ranking import FEATURES
from recommender.segments import SEGMENTS_FILE, SegmentedBlend, fit_segmented
from recommender.scorer import RelevanceScorer
from recommender.store import STORE_FILE, Store
from shared.atomic import replace_folder

logger = logging.getLogger("recommender.model")


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


def simulate_cold(kept: Sequence[Interaction], config: FitConfig,
                  ) -> tuple[list[Interaction], list[Interaction], set[str], set[str]]:
    """Validation's stand-ins for new items and new users, made from the training rows.

    A seeded ``cold_item_share`` of the items lose every training row, and a seeded
    ``sparse_user_share`` of the users (with at least 5 rows) keep only 1-3 of theirs; what
    was taken away becomes validation positives. Returns (rows kept, rows taken away, the
    items made new, the users made sparse): the segment blends are fitted on what serving
    such pairs looks like, without waiting for real new items to appear."""
    rng = random.Random(config.seed + 1)
    items = sorted({row.item for row in kept})
    cold = set(rng.sample(items, int(round(len(items) * config.cold_item_share)))) if len(items) >= 10 else set()
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    taken: list[Interaction] = []
    for row in kept:
        if row.item in cold:
            taken.append(row)
        else:
            by_user[row.user].append(row)
    eligible = sorted(u for u, rows in by_user.items() if len({r.item for r in rows}) >= 5)
    sparse = set(rng.sample(eligible, int(round(len(eligible) * config.sparse_user_share)))) if len(eligible) >= 10 else set()
    remaining: list[Interaction] = []
    for user in sorted(by_user):
        rows = by_user[user]
        if user in sparse:
            rows = list(rows)
            rng.shuffle(rows)
            keep = rng.randint(1, 3)
            remaining.extend(rows[:keep])
            taken.extend(rows[keep:])
        else:
            remaining.extend(rows)
    return remaining, taken, cold, sparse


def _validation_features(model: Recommender, truth_rows: Sequence[Interaction], max_users: int, seed: int,
                         stage: str):
    """Features, labels (held-out interaction or not), segments and users of validation users'
    candidates: the whole pool without the scorer for ``stage="prefilter"``, the shortlist
    with it for "final"; each user's new-item shelf (``scope="new"``) comes on top, so the
    cold-item blend sees enough new items."""
    truth: dict[str, set[str]] = defaultdict(set)
    for row in truth_rows:
        truth[row.user].add(row.item)
    users = sorted(truth)
    random.Random(seed).shuffle(users)
    blocks, labels, segments, groups = [], [], [], []
    new_items = bool(model.new_items()[0])
    for user in tqdm(users[:max_users], desc=f"validation ({stage})", disable=not model.config.progress,
                     leave=False):
        weights, _, profile, found = model.candidates(user)
        if profile is None or not found:
            continue
        if stage == "final":
            found = model.shortlist(weights, found, model.config.candidates)
        if new_items:
            have = {c.item for c in found}
            shelf = model.candidates(user, model.config.candidates, scope="new").candidates
            found = found + [c for c in shelf if c.item not in have]
        blocks.append(model.features(weights, found, scorer=stage == "final"))
        labels.extend(int(c.item in truth[user]) for c in found)
        segments.extend(model.segments_of(weights, found))
        groups.extend([user] * len(found))
    if not blocks:
        return np.zeros((0, len(FEATURES))), np.zeros(0, dtype=int), np.zeros(0, dtype=str), np.zeros(0, dtype=str)
    return np.vstack(blocks), np.asarray(labels), np.asarray(segments), np.asarray(groups)


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


def _decisions(blend: SegmentedBlend) -> dict:
    """Per segment: the features kept and dropped, the validation figures and the weights."""
    return {name: {**blend.decisions.get(name, {}),
                   "weights": {k: round(v, 4) for k, v in blend.blend(name).weights.items() if v},
                   "bias": round(blend.blend(name).bias, 4)} for name in blend.blends}


def fit(items: Sequence[Item], interactions: Sequence[Interaction], out_dir: str | Path,
        config: FitConfig | None = None, *, overwrite: bool = False) -> Path:
    """Fit every part on ``interactions`` and write a recommender folder (see the module doc).

    ``overwrite`` replaces a fitted folder without losing anything: the new one is built beside
    it and switched in only when complete (``shared.atomic.replace_folder``), and the
    interactions and items the old one logged (the live API's) are trained on and carried over."""
    config = config or FitConfig()
    out = Path(out_dir)
    if not (out / MODEL_FILE).exists():
        return _fit_into(items, interactions, out, config)
    if not overwrite:
        raise FolderExistsError(f"{out} already holds a recommender; pass overwrite (--force) to replace it")
    logged = Store(out / STORE_FILE)
    known = {item.id for item in items}
    items = list(items) + [item for item in logged.items() if item.id not in known]
    seen = {(r.user, r.item, r.event, r.timestamp) for r in interactions}
    interactions = list(interactions) + [r for r in logged.interactions()
                                         if (r.user, r.item, r.event, r.timestamp) not in seen]
    logged.close()
    building = out.parent / f".{out.name}-fit-{uuid.uuid4().hex[:8]}"
    try:
        _fit_into(items, interactions, building, config)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    replace_folder(building, out)
    return out


def _fit_into(items: Sequence[Item], interactions: Sequence[Interaction], out: Path, config: FitConfig) -> Path:
    """The fit in its steps: validation split, encoder, index, prefilter, scorer, final blend, folder."""
    out.mkdir(parents=True, exist_ok=True)
    catalogue = {item.id: item for item in items}
    unknown = sorted({row.item for row in interactions} - set(catalogue))
    if unknown:
        raise RecommenderError(f"{len(unknown)} interaction item(s) not in the catalogue: {', '.join(unknown[:5])}")
    report: dict = {"items": len(catalogue), "interactions": len(interactions),
                    "users": len({row.user for row in interactions})}
    started = time.perf_counter()
    kept, held = holdout_split(interactions, config.validation_share, config.seed)
    kept, taken, cold, sparse = simulate_cold(kept, config)
    held = held + taken
    report["validation_interactions"] = len(held)
    report["validation_new_items"], report["validation_sparse_users"] = len(cold), len(sparse)

    encoder_ref = _fit_encoder(kept, catalogue, out, config, report)
    index = _embed_and_index(list(catalogue.values()), out / encoder_ref if encoder_ref == "encoder" else encoder_ref,
                             out, config, report)
    model = Recommender(list(catalogue.values()), index, kept, config, encoder_ref=encoder_ref)
    features, labels, segments, users = _validation_features(model, held, config.validation_users, config.seed,
                                                             "prefilter")
    model.prefilter = fit_segmented(features[:, 1:], labels, segments, users, FEATURES[1:], seed=config.seed,
                                    min_gain=config.segment_min_gain)
    model.prefilter.save(out / "prefilter_segments.json")
    model.prefilter.blend("warm").save(out / "prefilter.json")  # what a reader of older folders expects
    report["prefilter"] = _decisions(model.prefilter)
    scorer_dir = _fit_scorer(model, catalogue, encoder_ref, out, config, report)

    features, labels, segments, users = _validation_features(model, held, config.validation_users, config.seed,
                                                             "final")
    names = FEATURES if model.scorer else FEATURES[1:]
    blend = fit_segmented(features if model.scorer else features[:, 1:], labels, segments, users, names,
                          seed=config.seed, min_gain=config.segment_min_gain)
    blend.save(out / SEGMENTS_FILE)
    blend.blend("warm").save(out / "blend.json")
    report["segments"] = _decisions(blend)
    _write_folder(out, list(catalogue.values()), interactions, config, encoder_ref, scorer_dir, report, started)
    logger.info("recommender fitted in %.1f s -> %s", report["fit_seconds"], out)
    return out


def _fit_encoder(kept: Sequence[Interaction], catalogue: dict[str, Item], out: Path, config: FitConfig,
                 report: dict) -> str:
    """The bi-encoder fine-tuned on co-interaction pairs (``"encoder"``, a subfolder of ``out``),
    or the configured one as it is when fine-tuning is off or there are too few pairs."""
    from recommender.embed import co_interaction_pairs, finetune_encoder

    if not config.finetune_encoder:
        return config.encoder
    pairs = co_interaction_pairs(kept, config)
    report["encoder_pairs"] = len(pairs)
    if len(pairs) < 2:
        return config.encoder
    finetune_encoder(config.encoder, catalogue, pairs, out / "encoder", config)
    return "encoder"


def _embed_and_index(ordered: list[Item], encoder_path, out: Path, config: FitConfig, report: dict) -> ItemIndex:
    """Every item embedded (in process, or by the Spark batch job) and indexed in ``out/index``."""
    from recommender.embed import ItemEncoder

    if config.engine == "spark":
        from recommender.embed import encode_items_on_spark

        vectors, embedded = encode_items_on_spark(ordered, encoder_path, out.parent / f".{out.name}-embed", config)
        shutil.rmtree(out.parent / f".{out.name}-embed", ignore_errors=True)
        report["embedding"] = {k: embedded[k] for k in ("engine", "rows_in", "seconds", "rows_per_s", "partitions")}
    else:
        vectors = ItemEncoder(encoder_path, threads=config.threads, max_length=config.max_length).encode_items(
            ordered, progress=config.progress)
    index = ItemIndex.build([i.id for i in ordered], vectors, kind=config.index_kind, progress=config.progress)
    index.save(out / "index")
    report["index"] = index.kind
    return index


def _fit_scorer(model: Recommender, catalogue: dict[str, Item], encoder_ref: str, out: Path, config: FitConfig,
                report: dict) -> str | None:
    """The relevance scorer trained on the prefiltered shortlists (set on ``model``, so the final
    blend's validation features include it); None when off or without both kinds of example."""
    from recommender.scorer import scorer_examples, train_scorer

    if not config.scorer:
        return None
    examples = scorer_examples(_scorer_cases(model, config), catalogue, config.profile.context_items)
    report["scorer_examples"] = len(examples)
    if len(set(examples.labels)) < 2 or len(examples) < 10:
        logger.warning("too few scorer examples (%d); fitting without the relevance scorer", len(examples))
        return None
    base = config.scorer_base or (str(out / "encoder") if encoder_ref == "encoder" else config.encoder)
    train_scorer(examples, out / "scorer", config, base=base)
    model.scorer = RelevanceScorer(out / "scorer", threads=config.threads)
    return "scorer"


def _write_folder(out: Path, ordered: list[Item], interactions: Sequence[Interaction], config: FitConfig,
                  encoder_ref: str, scorer_dir: str | None, report: dict, started: float) -> None:
    """The store with every item and the whole log, then ``model.json`` last: a folder without
    it is not a recommender folder, so a fit killed midway never looks complete."""
    store = Store(out / STORE_FILE)
    store.add_items(ordered)
    store.add_interactions(interactions, check_items=False)
    store.close()
    report["fit_seconds"] = round(time.perf_counter() - started, 1)
    meta = {"format_version": 1, "config": config.to_dict(), "encoder": encoder_ref, "scorer": scorer_dir,
            "index": "index", "prefilter": "prefilter.json", "blend": "blend.json", "store": STORE_FILE,
            "segments": SEGMENTS_FILE, "prefilter_segments": "prefilter_segments.json",
            "report": report}
    (out / MODEL_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
