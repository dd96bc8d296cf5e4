"""Item vectors in a FAISS index on disk, keyed by the catalogue's own (string) item ids.

The index type and its parameters follow the catalogue size (``index_plan``), each tier
bounded by what it costs on two cores:

- below ``HNSW_THRESHOLD`` (100k) items: exact inner product (``IndexFlatIP``): exact
  answers, and a scan of 100k vectors is still a few milliseconds;
- up to ``LARGE_HNSW`` (500k): an HNSW graph, M=48, efConstruction 200: the best recall per
  millisecond measured, built in minutes at this size;
- up to ``IVFPQ_THRESHOLD`` (5M): HNSW with M=32, efConstruction 80, a lighter graph so a
  million items build in minutes rather than the hour the larger one takes; efSearch 256
  (``make bench-scale``, ``faiss_1m_structured``, 1M vectors with the structure of MiniLM
  embeddings: built in 225 s at 2 threads, recall@10 0.992 at 0.94 ms p50 per query at 1
  thread; efSearch 128 gave 0.990 at 0.60 ms there, but 0.942 in the 200k measurement this
  tier was planned from, so 256 keeps a margin for catalogues less clustered than these);
- above: IVF with product quantization (``IndexIVFPQ``, 48 bytes a vector instead of 1,536):
  HNSW keeps every full vector in memory (7.5 GB at 5M items, 15 GB at 10M), which one
  machine stops holding; it trades recall for that, and ``nprobe`` buys it back.

HNSW's search cost grows roughly with log(n) on data with structure, which real text
embeddings have. Uniformly random vectors have none, and there the indexes measured barely
beat a scan; the figures are in docs/recommender.md and docs/benchmarks.md
(``faiss_1m``, ``faiss_1m_structured``), not here, where they would go stale.

Vectors are unit length, so inner product is cosine similarity.

Items are added and removed without a rebuild. FAISS positions are sequential ("slots");
``slot_ids`` maps a slot to the item id. Removing an item marks its slot dead, and searches
pass a FAISS ``IDSelector`` that skips dead slots and the slots the caller excludes (the
items a user has already seen), so exclusion happens inside the search, not by over-fetching.
An HNSW graph cannot delete nodes; ``compact()`` rebuilds without the dead slots when wanted
(automatically once more than half of the slots are dead).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import faiss
import numpy as np
from tqdm.auto import tqdm

from recommender.errors import RecommenderError
from shared.atomic import current_version, publish_version
from shared.model_dir import ModelFolderError

HNSW_THRESHOLD = 100_000
HNSW_M = 48
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 256
LARGE_HNSW = 500_000
LARGE_HNSW_M = 32
LARGE_HNSW_EF_CONSTRUCTION = 80
LARGE_HNSW_EF_SEARCH = 256
IVFPQ_THRESHOLD = 5_000_000
IVFPQ_BYTES = 48  # PQ sub-quantizers of 8 bits: 48 bytes a vector
IVFPQ_NPROBE = 64
IVFPQ_TRAIN_PER_LIST = 64  # training vectors per inverted list (FAISS warns below 39)
ADD_CHUNK = 20_000  # vectors per step of the progress bar on large adds
INDEX_FILE = "items.faiss"
IDS_FILE = "items.ids.json"


KINDS = ("flat", "hnsw", "ivfpq")


@dataclass(frozen=True)
class IndexPlan:
    """An index type and its parameters (see the module doc for why each tier)."""

    kind: str
    m: int = HNSW_M
    ef_construction: int = HNSW_EF_CONSTRUCTION
    ef_search: int = HNSW_EF_SEARCH
    nlist: int = 0
    nprobe: int = IVFPQ_NPROBE

    def options(self) -> dict:
        return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search,
                "nlist": self.nlist, "nprobe": self.nprobe}

    def describe(self) -> str:
        if self.kind == "hnsw":
            return f"HNSW (M={self.m}, efConstruction={self.ef_construction}, efSearch={self.ef_search})"
        if self.kind == "ivfpq":
            return f"IVF{self.nlist},PQ{IVFPQ_BYTES} (nprobe={self.nprobe})"
        return "exact inner product (flat)"


def _nlist(n_items: int) -> int:
    """Inverted lists for IVF: about 4 sqrt(n), a power of two, at least 16."""
    return max(16, 1 << int(round(np.log2(max(4 * np.sqrt(max(n_items, 1)), 16)))))


def index_plan(n_items: int, kind: str = "auto") -> IndexPlan:
    """The index for a catalogue of ``n_items``; ``kind`` forces a type with its tier's
    parameters for that size."""
    if kind == "auto":
        kind = "flat" if n_items < HNSW_THRESHOLD else "hnsw" if n_items < IVFPQ_THRESHOLD else "ivfpq"
    if kind not in KINDS:
        raise RecommenderError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)} or 'auto'")
    if kind == "hnsw" and n_items >= LARGE_HNSW:
        return IndexPlan("hnsw", LARGE_HNSW_M, LARGE_HNSW_EF_CONSTRUCTION, LARGE_HNSW_EF_SEARCH)
    if kind == "ivfpq":
        return IndexPlan("ivfpq", nlist=_nlist(n_items))
    return IndexPlan(kind)


def choose_kind(n_items: int) -> str:
    """The index type the size rule picks for ``n_items`` (exact up to a few thousand items,
    then HNSW, then IVF-PQ), for reports that state it without building one."""
    return index_plan(n_items).kind


def _new_faiss_index(kind: str, dimension: int, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION,
                     nlist: int = 0, ef_search: int = HNSW_EF_SEARCH, nprobe: int = IVFPQ_NPROBE):
    if kind == "flat":
        return faiss.IndexFlatIP(dimension)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
        return index
    if kind == "ivfpq":
        if dimension % IVFPQ_BYTES:
            raise ValueError(f"IVF-PQ needs a dimension divisible by {IVFPQ_BYTES}, not {dimension}")
        index = faiss.index_factory(dimension, f"IVF{max(nlist, 1)},PQ{IVFPQ_BYTES}", faiss.METRIC_INNER_PRODUCT)
        index.nprobe = nprobe
        return index
    raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)}")


class ItemIndex:
    """FAISS over unit item vectors (inner product = cosine) with string ids; grows in place, saved atomically."""

    def __init__(self, dimension: int, kind: str = "flat", *, m: int = HNSW_M,
                 ef_construction: int = HNSW_EF_CONSTRUCTION, ef_search: int = HNSW_EF_SEARCH,
                 nlist: int = 0, nprobe: int = IVFPQ_NPROBE):
        self.dimension = int(dimension)
        self.kind = kind
        # kept for compact() and save()
        self.m, self.ef_construction, self.nlist = int(m), int(ef_construction), int(nlist or _nlist(0))
        self.index = _new_faiss_index(kind, self.dimension, self.m, self.ef_construction, self.nlist,
                                      ef_search, nprobe)
        if kind == "ivfpq":
            self.index.set_direct_map_type(faiss.DirectMap.Array)  # vectors() and compact() reconstruct
        self.slot_ids: list[str | None] = []  # None marks a removed item's slot
        self.slot_of: dict[str, int] = {}
        self.dead: set[int] = set()

    @classmethod
    def build(cls, ids: Sequence[str], vectors: np.ndarray, kind: str = "auto", *, progress: bool = False,
              **options) -> "ItemIndex":
        """An index of the type and parameters ``index_plan`` picks for ``len(ids)`` items
        (``kind`` forces a type; ``options`` override single parameters)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        plan = index_plan(len(ids), kind)
        index = cls(vectors.shape[1], plan.kind, **{**plan.options(), **options})
        index.add(ids, vectors, progress=progress)
        return index

    # -- contents ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.slot_of)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.slot_of

    @property
    def dead_slots(self) -> int:
        return len(self.dead)

    @property
    def ef_search(self) -> int | None:
        return int(self.index.hnsw.efSearch) if self.kind == "hnsw" else None

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = int(value)

    @property
    def nprobe(self) -> int | None:
        """Inverted lists visited per query (IVF-PQ only): more lists, better recall, slower."""
        return int(self.index.nprobe) if self.kind == "ivfpq" else None

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self.kind == "ivfpq":
            self.index.nprobe = int(value)

    def _train(self, vectors: np.ndarray) -> None:
        """IVF-PQ learns its coarse centroids and codebooks from a sample of the first add."""
        if len(vectors) < max(self.nlist, 256):
            raise RecommenderError(f"an IVF-PQ index needs at least {max(self.nlist, 256)} vectors to train on, "
                             f"got {len(vectors)}; use kind 'flat' or 'hnsw' for so few")
        sample = min(len(vectors), max(self.nlist * IVFPQ_TRAIN_PER_LIST, 10_000))
        rows = np.random.default_rng(0).choice(len(vectors), size=sample, replace=False)
        self.index.train(vectors[np.sort(rows)])

    def add(self, ids: Sequence[str], vectors: np.ndarray, *, progress: bool = False) -> None:
        """Add items; an id already present is replaced (its old slot is marked dead).

        With ``progress`` a large add goes in chunks under a progress bar: an HNSW graph over a
        million vectors takes an hour or more on two cores, and a silent hour looks like a hang.
        """
        ids = [str(i) for i in ids]
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected vectors of shape ({len(ids)}, {self.dimension}), got {vectors.shape}")
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in one add() call")
        self.remove([i for i in ids if i in self.slot_of])
        if not self.index.is_trained:
            self._train(vectors)
        start = len(self.slot_ids)
        chunk = ADD_CHUNK if progress and len(ids) > ADD_CHUNK else max(len(ids), 1)
        with tqdm(total=len(ids), desc=f"indexing ({self.kind})", unit="vec", disable=chunk >= len(ids)) as bar:
            for begin in range(0, len(ids), chunk):
                self.index.add(vectors[begin:begin + chunk])
                bar.update(min(chunk, len(ids) - begin))
        for offset, item_id in enumerate(ids):
            self.slot_ids.append(item_id)
            self.slot_of[item_id] = start + offset

    def remove(self, ids: Iterable[str]) -> int:
        """Remove items by id; unknown ids are ignored. Returns how many were removed."""
        removed = 0
        for item_id in ids:
            slot = self.slot_of.pop(str(item_id), None)
            if slot is not None:
                self.slot_ids[slot] = None
                self.dead.add(slot)
                removed += 1
        if removed and self.dead_slots > max(1000, len(self.slot_ids) // 2):
            self.compact()
        return removed

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``ids`` (KeyError for an id not in the index)."""
        if not ids:
            return np.zeros((0, self.dimension), dtype=np.float32)
        slots = np.array([self.slot_of[i] for i in ids], dtype=np.int64)
        return self.index.reconstruct_batch(slots)

    def compact(self) -> None:
        """Rebuild without dead slots (HNSW cannot delete graph nodes in place; IVF-PQ keeps its
        training and re-adds its codes)."""
        live = [i for i in self.slot_ids if i is not None]
        vectors = self.vectors(live)
        if self.kind == "ivfpq":
            fresh = faiss.clone_index(self.index)
            fresh.reset()
        else:
            fresh = _new_faiss_index(self.kind, self.dimension, self.m, self.ef_construction)
        if self.kind == "hnsw":
            fresh.hnsw.efSearch = self.index.hnsw.efSearch
        self.index, self.slot_ids, self.slot_of, self.dead = fresh, [], {}, set()
        self.add(live, vectors)

    # -- search -----------------------------------------------------------------------------
    def _params(self, excluded_slots: list[int]):
        """Search parameters whose selector skips dead and excluded slots, and the objects
        that must stay alive while FAISS uses them (the selectors do not own their memory)."""
        slots = np.asarray(sorted(self.dead.union(excluded_slots)), dtype=np.int64)
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = self.index.hnsw.efSearch
        elif self.kind == "ivfpq":
            params = faiss.SearchParametersIVF()
            params.nprobe = self.index.nprobe
        else:
            params = faiss.SearchParameters()
        if len(slots):
            batch = faiss.IDSelectorBatch(len(slots), faiss.swig_ptr(slots))
            selector = faiss.IDSelectorNot(batch)
            params.sel = selector
            return params, (slots, batch, selector)
        return params, ()

    def search(self, queries: np.ndarray, k: int, exclude: Iterable[str] = ()) -> list[list[tuple[str, float]]]:
        """For each query row, up to ``k`` (item id, inner product) pairs, best first,
        skipping removed items and the ids in ``exclude``."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dimension:
            raise ValueError(f"query dimension {queries.shape[1]} != index dimension {self.dimension}")
        if k <= 0 or not len(self):
            return [[] for _ in range(len(queries))]
        excluded = [self.slot_of[i] for i in exclude if i in self.slot_of]
        k_search = min(k, len(self))
        params, keep_alive = self._params(excluded)
        scores, slots = self.index.search(queries, k_search, params=params)
        del keep_alive
        return [[(self.slot_ids[s], float(d)) for d, s in zip(row_scores, row_slots)
                 if s >= 0 and self.slot_ids[s] is not None] for row_scores, row_slots in zip(scores, slots)]

    # -- disk -------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """A new version of index and ids, switched in at once (``shared.atomic.publish_version``)."""
        meta = {"kind": self.kind, "dimension": self.dimension, "slot_ids": self.slot_ids, "ef_search": self.ef_search,
                "m": self.m, "ef_construction": self.ef_construction, "nlist": self.nlist, "nprobe": self.nprobe}

        def write(staging: Path) -> None:
            faiss.write_index(self.index, str(staging / INDEX_FILE))
            (staging / IDS_FILE).write_text(json.dumps(meta), encoding="utf-8")

        publish_version(folder, write)
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path) -> "ItemIndex":
        folder = current_version(folder)
        for name in (INDEX_FILE, IDS_FILE):
            if not (folder / name).is_file():
                raise ModelFolderError(f"{folder / name} is missing: not a saved item index")
        meta = json.loads((folder / IDS_FILE).read_text(encoding="utf-8"))
        self = cls.__new__(cls)
        self.dimension, self.kind = int(meta["dimension"]), meta["kind"]
        self.m = int(meta.get("m", HNSW_M))
        self.ef_construction = int(meta.get("ef_construction", HNSW_EF_CONSTRUCTION))
        self.nlist = int(meta.get("nlist") or _nlist(0))
        self.index = faiss.read_index(str(folder / INDEX_FILE))
        if self.index.ntotal != len(meta["slot_ids"]):
            raise ValueError(f"{folder}: index holds {self.index.ntotal} vectors but {len(meta['slot_ids'])} ids")
        self.slot_ids = meta["slot_ids"]
        self.slot_of = {item_id: slot for slot, item_id in enumerate(self.slot_ids) if item_id is not None}
        self.dead = {slot for slot, item_id in enumerate(self.slot_ids) if item_id is None}
        if meta.get("ef_search"):
            self.ef_search = meta["ef_search"]
        if meta.get("nprobe"):
            self.nprobe = meta["nprobe"]
        return self
