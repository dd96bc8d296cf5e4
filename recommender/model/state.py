"""What a served recommender knows and how it grows: the catalogue, the FAISS index, every
user's history, popularity and co-occurrence, and the updates that change them without a refit.

One ``ServingState`` is shared by the candidate pool, the rankers and the explainer, which only
read it (under ``lock.reading()``). Every change goes through the methods here, under the write
lock, so a reader never sees half an update; an interaction goes to the folder's store first and
comes back through ``refresh``, so every web worker applies the store's log in the same order.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from recommender.cooccurrence import CoOccurrence
from recommender.data import Interaction, Item, check_interaction
from recommender.index import ItemIndex
from recommender.model.concurrency import AnswerCache, ReadWriteLock
from recommender.model.config import FitConfig, RecommenderError
from recommender.profiles import Popularity
from recommender.segments import segment_of
from recommender.store import Store, UnknownItemError


class ServingState:
    """The data every request reads, its locks and cache, and the online updates that write it."""

    def __init__(self, items: Iterable[Item], index: ItemIndex, interactions: Iterable[Interaction],
                 config: FitConfig, *, store: Store | None = None, folder: Path | None = None,
                 cache_ttl_s: float = 60.0, store_seq: int | None = None, encoder_ref: str | None = None):
        self.items = {item.id: item for item in items}
        self.index = index
        self.config = config
        self.store = store
        self.folder = folder
        self.encoder_ref = encoder_ref or config.encoder
        self._encoder = None
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

    # -- reading ----------------------------------------------------------------------------
    def history(self, user: str) -> list[Interaction]:
        """The user's interactions, oldest first; empty for a user nobody has seen (no entry is made)."""
        return self.histories.get(user, [])

    def segment(self, user_items: int, item: str) -> str:
        """``warm``, ``cold_item`` or ``sparse_user``: which fitted blend ranks this pair
        (recommender.segments)."""
        return segment_of(user_items, self.popularity.counts.get(item, 0))

    def new_items(self) -> tuple[list[str], np.ndarray]:
        """Items in the index that nobody has interacted with yet, and their vectors: only text
        can find them, so the pool adds a slice of them (cached until the catalogue or
        popularity says otherwise)."""
        if self._new_items is None:
            ids = [i for i in self.items if i in self.index and not self.popularity.counts.get(i)]
            self._new_items = (ids, self.index.vectors(ids))
        return self._new_items

    def is_current(self) -> bool:
        """True when no other process wrote to the store since this one last read it (a ``stat``)."""
        return self.store is None or self.store.signature() == self._store_signature

    @property
    def encoder(self):
        """The bi-encoder, loaded on first use: only adding items needs it at serving time."""
        if self._encoder is None:
            from recommender.embed import ItemEncoder

            self._encoder = ItemEncoder(self.encoder_ref, threads=self.config.threads,
                                        max_length=self.config.max_length)
        return self._encoder

    # -- growing ----------------------------------------------------------------------------
    def refresh(self) -> int:
        """Apply interactions another process (another web worker) wrote to the store since
        this one last looked; a stat when nothing changed. Returns how many rows it applied."""
        if self.is_current():
            return 0
        with self.lock.writing():
            signature = self.store.signature()
            rows, self._store_seq = self.store.interactions_since(self._store_seq)
            for row in rows:
                if row.item in self.items:
                    self._remember(row)
            self._store_signature = signature
        return len(rows)

    def add_interaction(self, row: Interaction) -> None:
        """Validate, persist (one transaction), then update the profile and popularity at once.

        With a store the row comes back through ``refresh`` (with any other worker's rows
        before it), so every process applies the log in the same order; the user's cached
        answers are dropped either way."""
        problem = check_interaction(row.user, row.item, row.event, self.items,
                                    tuple(self.config.profile.event_weights))
        if problem:  # an unknown item keeps its own type to the edge (the web layer's 404)
            error = UnknownItemError if problem[0] == "item" and row.item else RecommenderError
            raise error(f"field {problem[0]!r}: {problem[1]}")
        if self.store is None:
            with self.lock.writing():
                self._remember(row)
            return
        self.store.add_interactions([row])  # UnknownItemError (another worker removed it) goes up as it is
        self.refresh()

    def add_items(self, items: Sequence[Item]) -> None:
        """Embed and index new (or changed) items without rebuilding the index."""
        if not items:
            return
        vectors = self.encoder.encode_items(items)
        with self.lock.writing():
            self.index.add([i.id for i in items], vectors)
            for item in items:
                self.cooccurrence.add_item(item.id)
            if self.store is not None:
                self.store.add_items(items)
            self.items.update({i.id: i for i in items})
            self._catalogue_changed()

    def remove_items(self, ids: Sequence[str]) -> int:
        """Take items out of the index, the catalogue and popularity; returns how many were there."""
        with self.lock.writing():
            removed = self.index.remove(ids)
            if self.store is not None:
                self.store.remove_items(ids)
            for item_id in ids:
                self.items.pop(item_id, None)
                self.popularity.forget(item_id)
            self._catalogue_changed()
        return removed

    def _remember(self, row: Interaction) -> None:
        """One interaction into every structure that reads it (caller holds the write lock)."""
        if not self.popularity.counts.get(row.item):
            self._new_items = None  # the item is no longer new
        self.histories[row.user].append(row)
        self.popularity.add(row)
        self.cooccurrence.add(row.user, row.item)
        self.cache.forget_user(row.user)

    def _catalogue_changed(self) -> None:
        """Every cached answer and the new-item list may be stale; the index goes to disk."""
        self.cache.clear()
        self._new_items = None
        if self.folder is not None:
            self.index.save(self.folder / "index")
