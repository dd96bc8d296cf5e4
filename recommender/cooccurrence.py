"""Item-to-item co-occurrence: "people who interacted with X also interacted with Y".

The collaborative signal the text encoders cannot see. Two items co-occur once per user who
interacted with both. How the counts become item-to-item weights depends on the catalogue:

- up to ``EASE_MAX_ITEMS`` items, EASE (Steck 2019): the item-item regression
  B = -P / diag(P) with P = (C + lambda I)^-1, C the co-occurrence counts; a user's score is
  the sum of B's rows of their history items. One dense inverse, seconds for a few thousand
  items, and on MovieLens-100K much stronger than similarity heuristics (the whole model's
  nDCG@10 is in bench/results/recommender.json);
- above that (a dense inverse no longer fits), the Jaccard index of the items' user sets, as
  in SAR, weighted by the profile (event weights, time decay) and divided by the total weight.

The counts are a sparse matrix built once from the log (one sparse product), plus a small
dictionary of changes since then, so ``POST /interactions`` takes effect at once without a
rebuild (for EASE: the user's history changes at once, the item weights at the next load);
``compact()`` folds the changes into the matrix.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable, Mapping, Sequence

import numpy as np
from scipy import sparse

EASE_MAX_ITEMS = 5000  # a dense float32 item x item matrix: 100 MB at 5,000 items
EASE_LAMBDA = 500.0  # L2 strength; in development runs on MovieLens-100K, 300-500 did best of 100-1000


class CoOccurrence:
    """Item-to-item co-occurrence counts and their EASE (or Jaccard) weights, updated per interaction."""

    def __init__(self, items: Iterable[str]):
        self.ids = list(items)
        self.position = {item: n for n, item in enumerate(self.ids)}
        size = len(self.ids)
        self._counts = sparse.csr_matrix((size, size), dtype=np.float32)
        self._delta: dict[int, Counter] = defaultdict(Counter)
        self._users: dict[str, set[int]] = defaultdict(set)
        self.occurrences = np.zeros(size, dtype=np.float32)
        self.ease: np.ndarray | None = None
        self.method = "jaccard"

    @classmethod
    def from_histories(cls, items: Iterable[str], histories: Mapping[str, Iterable], *,
                       ease_max_items: int = EASE_MAX_ITEMS, ease_lambda: float = EASE_LAMBDA) -> "CoOccurrence":
        """Counts from every user's history (rows with an ``item`` attribute) in one product;
        the EASE weights too when the catalogue is small enough."""
        table = cls(items)
        rows, cols = [], []
        for n, (user, history) in enumerate(histories.items()):
            seen = {table.position[r.item] for r in history if r.item in table.position}
            table._users[user] = seen
            rows.extend([n] * len(seen))
            cols.extend(seen)
        users = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                  shape=(max(len(histories), 1), len(table.ids)))
        table._counts = (users.T @ users).tocsr()
        table.occurrences = np.asarray(table._counts.diagonal(), dtype=np.float32)
        if 0 < len(table.ids) <= ease_max_items:
            table.ease = ease_weights(table._counts, ease_lambda)
            table.method = "ease"
        return table

    def add(self, user: str, item: str) -> None:
        """One interaction; only a user's first one with an item changes the counts."""
        j = self.position.get(item)
        if j is None or j in self._users[user]:
            return
        for i in self._users[user]:
            self._delta[i][j] += 1
            self._delta[j][i] += 1
        self._users[user].add(j)
        self.occurrences[j] += 1

    def add_item(self, item: str) -> None:
        """A new catalogue item (no co-occurrences yet)."""
        if item in self.position:
            return
        self.compact()
        self.position[item] = len(self.ids)
        self.ids.append(item)
        size = len(self.ids)
        self._counts.resize((size, size))
        self.occurrences = np.append(self.occurrences, np.float32(0))
        if self.ease is not None:  # no weights for it until the next load
            grown = np.zeros((size, size), dtype=np.float32)
            grown[: size - 1, : size - 1] = self.ease
            self.ease = grown

    def compact(self) -> None:
        if not self._delta:
            return
        rows, cols, values = [], [], []
        for i, counter in self._delta.items():
            for j, v in counter.items():
                rows.append(i), cols.append(j), values.append(v)
        change = sparse.csr_matrix((np.asarray(values, dtype=np.float32), (rows, cols)), shape=self._counts.shape)
        self._counts = (self._counts + change).tocsr()
        self._delta.clear()

    def scores(self, weights: Mapping[str, float]) -> np.ndarray:
        """Every item's score for a user whose history items are the keys of ``weights``."""
        if len(self._delta) > 10_000:  # both methods: the change log must not grow without bound
            self.compact()
        if self.ease is not None:
            rows = [self.position[i] for i in weights if i in self.position]
            out = self.ease[rows].sum(axis=0, dtype=np.float64) if rows else np.zeros(len(self.ids))
            out[rows] = 0.0
            return out
        return self.jaccard_scores(weights)

    def jaccard_scores(self, weights: Mapping[str, float]) -> np.ndarray:
        """Weighted Jaccard similarity of every item to the weighted ``weights`` items."""
        known = [(self.position[i], w) for i, w in weights.items() if i in self.position]
        out = np.zeros(len(self.ids), dtype=np.float64)
        total = sum(w for _, w in known)
        if not known or total <= 0:
            return out
        rows = np.fromiter((p for p, _ in known), dtype=np.int64)
        block = self._counts[rows].tocoo()
        block_rows, block_cols, co = block.row.astype(np.int64), block.col.astype(np.int64), block.data.astype(np.float64)
        extra = [(r, j, v) for r, (i, _) in enumerate(known) for j, v in self._delta.get(i, {}).items()]
        if extra:  # changes since the last compaction; duplicates of (row, col) add up below
            er, ec, ev = (np.asarray(x) for x in zip(*extra))
            block_rows, block_cols = np.concatenate([block_rows, er]), np.concatenate([block_cols, ec])
            co = np.concatenate([co, ev.astype(np.float64)])
            merged = sparse.coo_matrix((co, (block_rows, block_cols)), shape=(len(rows), len(self.ids))).tocsr().tocoo()
            block_rows, block_cols, co = merged.row.astype(np.int64), merged.col.astype(np.int64), merged.data
        occurrences = self.occurrences.astype(np.float64)
        union = occurrences[rows[block_rows]] + occurrences[block_cols] - co
        similarity = np.divide(co, union, out=np.zeros_like(co), where=union > 0)
        item_weight = np.fromiter((w for _, w in known), dtype=np.float64)
        out += np.bincount(block_cols, weights=similarity * item_weight[block_rows], minlength=len(self.ids))
        out[rows] = 0.0  # an item is not its own recommendation
        return out / total

    def scores_without_each(self, weights: Mapping[str, float], items: Sequence[str],
                            base: np.ndarray | None = None) -> np.ndarray:
        """``items``' scores with each history item (the keys of ``weights``) left out in turn:
        one row per history item. The explainer reads a pick's reason off the row whose score
        drops most; EASE's scores are sums of rows, Jaccard's a weighted mean. ``base``: the
        items' scores under the whole history, when the caller has them already."""
        columns = np.array([self.position.get(i, -1) for i in items], dtype=np.int64)
        known = columns >= 0
        if base is None:
            base = np.where(known, self.scores(weights)[np.maximum(columns, 0)], 0.0)
        base = np.asarray(base, dtype=np.float64)
        history = list(weights)
        out = np.tile(base, (len(history), 1))
        rows = np.array([self.position.get(i, -1) for i in history], dtype=np.int64)
        if self.ease is not None:  # a sum of the history's rows: leaving one out subtracts it
            present = rows >= 0  # an item not in the table adds nothing to any score
            out[np.ix_(present, known)] -= self.ease[np.ix_(rows[present], columns[known])]
            return out
        total = sum(w for i, w in weights.items() if i in self.position)
        for row, item in enumerate(history):
            if rows[row] < 0:
                continue
            rest = total - weights[item]
            alone = self.jaccard_scores({item: 1.0})[np.maximum(columns, 0)]
            out[row] = np.where(known, (base * total - weights[item] * alone) / rest, 0.0) if rest > 0 else 0.0
        return out

    def score_of(self, scores: np.ndarray, item: str) -> float:
        n = self.position.get(item)
        return float(scores[n]) if n is not None else 0.0

    def top(self, scores: np.ndarray, n: int, exclude: set[str] = frozenset(), allowed=None) -> list[tuple[str, float]]:
        """The ``n`` best items by ``scores`` with a score above 0, minus ``exclude``."""
        if n <= 0:
            return []
        positive = np.flatnonzero(scores > 0)  # usually a small part of a large catalogue
        order = positive[np.argsort(-scores[positive], kind="stable")]
        out = []
        for position in order:
            if len(out) >= n:
                break
            item = self.ids[position]
            if item not in exclude and (allowed is None or item in allowed):
                out.append((item, float(scores[position])))
        return out


def ease_weights(counts: sparse.spmatrix, strength: float) -> np.ndarray:
    """EASE's item-item weights from co-occurrence counts (zero diagonal), float32."""
    gram = counts.toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += strength
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)
