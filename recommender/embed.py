"""Item texts to vectors with a bi-encoder, and fine-tuning it on what users do together.

The pretrained encoder knows what texts mean, not what people like together. Items that the
same user interacts with one after another are positive pairs; sentence-transformers'
MultipleNegativesRankingLoss uses the other pairs of each batch as negatives (in-batch
negatives), which pulls co-interacted items together in the vector space FAISS searches.

Training runs through sentence-transformers' own loop (``old_fit``), with batches in which an
item never appears twice (it would be a false negative).
Its newer ``SentenceTransformerTrainer`` needs the ``datasets`` package, which the locked
environment does not have.
"""
from __future__ import annotations

import logging
import math
import random
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from shared.data import DataError
from shared.embeddings import Embedder

from recommender.data import Interaction, Item

if TYPE_CHECKING:  # annotations only: recommender.model imports this module
    from recommender.model.config import FitConfig

logger = logging.getLogger(__name__)


class ItemEncoder:
    """Item -> unit vector, through the core's Embedder (a registry name or a model folder)."""

    def __init__(self, model: str | Path, *, threads: int | None, max_length: int):
        self.embedder = Embedder(model, threads=threads, max_length=max_length)
        self.model_ref = str(model)

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def encode_items(self, items: Sequence[Item], *, progress: bool = False) -> np.ndarray:
        return self.embedder.encode([item.text for item in items], progress=progress)


def encode_items_on_spark(items: Sequence[Item], model: str | Path, work_dir: str | Path, config: FitConfig, *,
                          session=None) -> tuple[np.ndarray, dict]:
    """The items' vectors from the core's ``embed`` batch job on Spark (one encoder per Python
    worker, one thread per task), in the order of ``items``, and the job's summary.

    For a catalogue too large to embed in one process's time: the texts go to Parquet, Spark
    embeds them in parallel (``shared.batch``), and the vectors come back from Parquet."""
    import pandas as pd

    from shared.batch import Columns, EmbedJob, run

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    source = work / "items"
    source.mkdir(exist_ok=True)
    frame = pd.DataFrame({"id": [i.id for i in items], "text": [i.text for i in items]})
    for n, start in enumerate(range(0, len(frame), 50_000)):  # row groups become Spark tasks
        frame.iloc[start:start + 50_000].to_parquet(source / f"part-{n:05d}.parquet", row_group_size=5_000)
    summary = run(EmbedJob(str(model), threads=1, max_length=config.max_length), source, work / "vectors",
                  Columns("text", "id"), master=config.spark_master, overwrite=True, session=session)
    if summary["rows_rejected"]:
        raise DataError(f"{summary['rows_rejected']} item text(s) could not be embedded; see {work / 'vectors'}/_rejected",
                        work / "vectors")
    return vectors_from_parquet(work / "vectors", [i.id for i in items]), summary


def vectors_from_parquet(folder: str | Path, ids: Sequence[str]) -> np.ndarray:
    """The ``vector`` column of the Parquet parts under ``folder`` (the embed job's output) as
    one float32 matrix in the order of ``ids``, read column-wise through Arrow (a million
    384-d vectors in seconds, without a Python object per number)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(folder, columns=["id", "vector"])
    column = table.column("vector").combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        dimension = column.type.list_size
    else:
        lengths = pc.list_value_length(column)
        dimension = int(pc.min(lengths).as_py()) if len(column) else 0
        if len(column) and int(pc.max(lengths).as_py()) != dimension:
            raise ValueError(f"{folder}: vectors of different lengths")
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    matrix = flat.reshape(len(column), dimension)
    position = {item_id: n for n, item_id in enumerate(table.column("id").to_pylist())}
    missing = [i for i in ids if i not in position]
    if missing:
        raise ValueError(f"{folder}: no vector for {len(missing)} id(s), e.g. {missing[:3]}")
    return np.ascontiguousarray(matrix[np.fromiter((position[i] for i in ids), dtype=np.int64, count=len(ids))])


def co_interaction_pairs(interactions: Sequence[Interaction], config: FitConfig) -> list[tuple[str, str]]:
    """Unordered pairs of item ids that a user interacted with one after the other.

    Rated interactions below ``encoder_pair_min_rating`` are left out: a disliked item is not a
    positive. At most ``encoder_pairs`` pairs, sampled with ``seed``.
    """
    min_rating, max_pairs, seed = config.encoder_pair_min_rating, config.encoder_pairs, config.seed
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for row in interactions:
        if min_rating is not None and row.rating is not None and row.rating < min_rating:
            continue
        by_user[row.user].append(row)
    pairs: set[tuple[str, str]] = set()
    for user in sorted(by_user):
        rows = sorted(by_user[user], key=lambda r: (r.timestamp, r.item))
        for a, b in zip(rows, rows[1:]):
            if a.item != b.item:
                pairs.add((min(a.item, b.item), max(a.item, b.item)))
    ordered = sorted(pairs)
    random.Random(seed).shuffle(ordered)
    return ordered[:max_pairs]


class UniqueTextBatches:
    """Batches in which no text appears twice (a duplicate would be a false in-batch negative).

    sentence-transformers' NoDuplicatesDataLoader does the same but loops forever when a small
    catalogue cannot fill a batch with distinct texts; this planner never waits: an example
    that fits no open batch starts a new one. ``old_fit`` sets ``collate_fn``.
    """

    def __init__(self, examples: list, batch_size: int, seed: int = 42, open_batches: int = 8):
        self.examples, self.batch_size, self.open_batches = list(examples), batch_size, open_batches
        self.rng = random.Random(seed)
        self.collate_fn = None
        self._length = len(self._plan())

    def _plan(self) -> list[list]:
        order = list(self.examples)
        self.rng.shuffle(order)
        done, pending = [], []  # pending: (examples, texts) of batches still filling
        for example in order:
            texts = {t.strip().lower() for t in example.texts}
            for batch, seen in pending[-self.open_batches:]:
                if not texts & seen:
                    batch.append(example)
                    seen |= texts
                    break
            else:
                pending.append(([example], set(texts)))
            done += [b for b, _ in pending if len(b) >= self.batch_size]
            pending = [(b, s) for b, s in pending if len(b) < self.batch_size]
        return done + [b for b, _ in pending if len(b) >= 2]

    def __len__(self) -> int:
        return self._length

    def __iter__(self):
        for batch in self._plan():
            yield self.collate_fn(batch) if self.collate_fn is not None else batch


def finetune_encoder(base: str | Path, items: Mapping[str, Item], pairs: Sequence[tuple[str, str]],
                     out_dir: str | Path, config: FitConfig) -> Path:
    """Fine-tune the bi-encoder on co-interaction pairs and save it as a sentence-transformers
    folder (``encoder_epochs``, ``encoder_batch_size``, ``encoder_learning_rate`` of ``config``)."""
    import torch
    from sentence_transformers import InputExample, losses

    if len(pairs) < 2:
        raise ValueError(f"need at least 2 co-interaction pairs to fine-tune the encoder, got {len(pairs)}")
    seed, epochs, learning_rate = config.seed, config.encoder_epochs, config.encoder_learning_rate
    torch.manual_seed(seed)
    random.seed(seed)
    encoder = Embedder(base, threads=config.threads, max_length=config.max_length)
    model = encoder.model
    examples = [InputExample(texts=[items[a].text, items[b].text]) for a, b in pairs]
    distinct = len({t for a, b in pairs for t in (a, b)})
    batch_size = max(2, min(config.encoder_batch_size, distinct // 2))
    loader = UniqueTextBatches(examples, batch_size, seed)
    loss = losses.MultipleNegativesRankingLoss(model)
    whole_epochs = max(1, math.ceil(epochs))
    steps_per_epoch = max(1, int(len(loader) * epochs / whole_epochs))
    model.old_fit(
        train_objectives=[(loader, loss)], epochs=whole_epochs, steps_per_epoch=steps_per_epoch,
        warmup_steps=max(1, int(0.1 * steps_per_epoch * whole_epochs)),
        optimizer_params={"lr": learning_rate}, show_progress_bar=config.progress,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    logger.info("fine-tuned encoder on %d pairs (%d steps) -> %s", len(pairs), steps_per_epoch * whole_epochs, out_dir)
    return out_dir
