"""Deduplication, stratified splits and the project's two fixed data sets.

Figures are only comparable when they come from the same split, so the PhraseBank split is a
committed file of row ids (data/financial_phrasebank/split.csv, made by
data/scripts/make_phrasebank_split.py) rather than something recomputed at run time.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from sklearn.model_selection import train_test_split

from .errors import DataError
from .loading import LabelledTexts

logger = logging.getLogger(__name__)

SPLIT_ORDER = ("train", "validation", "test")


def drop_duplicates(data: LabelledTexts) -> tuple[LabelledTexts, int]:
    """Remove exact (text, label) repeats, keeping the first, so no example is weighted twice
    or sits on both sides of a split. Same text with different labels is kept: it is a
    labelling disagreement, not a repeat. Returns the data and how many rows were dropped."""
    seen: set[tuple[str, str]] = set()
    keep = []
    for i, pair in enumerate(zip(data.texts, data.labels)):
        if pair not in seen:
            seen.add(pair)
            keep.append(i)
    dropped = len(data) - len(keep)
    if dropped:
        logger.info("%s: dropped %d duplicate (text, label) rows of %d", data.source or "data", dropped, len(data))
    return data.subset(keep), dropped


def stratified_split(data: LabelledTexts, test_size: float, *, seed: int = 42) -> tuple[LabelledTexts, LabelledTexts]:
    """Split into (first, second) parts keeping label proportions; second gets about test_size.

    Labels with a single example cannot be stratified, so they go to the first (training) part.
    Both parts keep the original file order.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    counts = data.label_counts()
    rest = [i for i, lab in enumerate(data.labels) if counts[lab] > 1]
    singles = [i for i, lab in enumerate(data.labels) if counts[lab] == 1]
    if len(rest) < 2:
        return data.subset(range(len(data))), data.subset([])
    try:
        first, second = train_test_split(
            rest, test_size=test_size, stratify=[data.labels[i] for i in rest], random_state=seed
        )
    except ValueError as e:  # e.g. fewer test slots than labels
        raise DataError(f"cannot split {len(rest)} examples stratified with test_size={test_size}: {e}",
                        data.source or None) from None
    return data.subset(sorted(first + singles)), data.subset(sorted(second))


def apply_split_file(data: LabelledTexts, split_file: str | Path) -> dict[str, LabelledTexts]:
    """Split data by a committed file of `id,split` rows (id = zero-based data row index)."""
    split_file = Path(split_file)
    if not split_file.is_file():
        raise DataError("split file not found", split_file)
    groups: dict[str, list[int]] = {}
    seen: dict[int, int] = {}
    with split_file.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if "id" not in header or "split" not in header:
            raise DataError(f"expected columns id,split; found: {header}", split_file, 1)
        ii, si = header.index("id"), header.index("split")
        end = reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num
            if not row:
                continue
            raw = row[ii] if len(row) > ii else ""
            try:
                i = int(raw)
            except ValueError:
                raise DataError(f"id {raw!r} is not an integer", split_file, line, "id") from None
            if not 0 <= i < len(data):
                raise DataError(f"id {i} out of range: the data has {len(data)} rows", split_file, line, "id")
            if i in seen:
                raise DataError(f"id {i} duplicated (first on line {seen[i]})", split_file, line, "id")
            name = row[si].strip() if len(row) > si else ""
            if not name:
                raise DataError("empty split name", split_file, line, "split")
            seen[i] = line
            groups.setdefault(name, []).append(i)
    if len(seen) != len(data):
        logger.warning("%s covers %d of %d rows of %s", split_file, len(seen), len(data), data.source)
    order = [s for s in SPLIT_ORDER if s in groups] + sorted(set(groups) - set(SPLIT_ORDER))
    return {name: data.subset(groups[name]) for name in order}
