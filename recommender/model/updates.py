"""A served recommender grows without a refit: new interactions (``POST /interactions``) update
the user's profile and the popularity at once; new or changed items are embedded and indexed
in place; removed items leave the index and the catalogue."""
from __future__ import annotations

from typing import Sequence

from recommender.data import Interaction, Item, check_interaction
from recommender.model.config import RecommenderError
from recommender.store import UnknownItemError


class OnlineUpdates:
    """The growing half of ``Recommender`` (mixed in): every change persists to the folder's store."""

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

    def _catalogue_changed(self) -> None:
        """Every cached answer and the new-item list may be stale; the index goes to disk."""
        self.cache.clear()
        self._new_items = None
        if self.folder is not None:
            self.index.save(self.folder / "index")
