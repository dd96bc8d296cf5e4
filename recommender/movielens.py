"""MovieLens-100K (GroupLens; research use, cite Harper & Konstan 2015) as items and interactions.

The data ship inside the ``recbole==1.2.1`` wheel (installed with ``--no-deps``) at
``recbole/dataset_example/ml-100k/``; we read them from there and never copy them into the
repository. The package folder is found without importing recbole, whose dependencies are
not installed.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from shared.data import DataError

from recommender.data import Interaction, Item

RATING_EVENT = "rating"


def movielens_folder() -> Path:
    """Where the installed recbole wheel keeps MovieLens-100K: the data comes from a package, never
    from the network (a DataError says what to install)."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("MovieLens-100K ships in the recbole package: pip install --no-deps recbole==1.2.1",
                        "recbole/dataset_example/ml-100k")
    folder = Path(list(spec.submodule_search_locations)[0]) / "dataset_example" / "ml-100k"
    if not (folder / "ml-100k.inter").is_file():
        raise DataError("ml-100k.inter not found in the recbole package", folder)
    return folder


def _rows(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            yield number, line.split("\t")


def load_movielens100k() -> tuple[list[Item], list[Interaction]]:
    """1,682 movies (text: "Title (year). Genre, Genre") and 100,000 ratings as interactions."""
    folder = movielens_folder()
    items = []
    for number, fields in _rows(folder / "ml-100k.item"):
        if len(fields) != 4:
            raise DataError(f"expected 4 tab-separated fields, got {len(fields)}", folder / "ml-100k.item", number)
        item_id, title, year, genres = (f.strip() for f in fields)
        items.append(Item(item_id, f"{title} ({year})" if year else title, "", tuple(genres.split())))
    interactions = []
    for number, fields in _rows(folder / "ml-100k.inter"):
        if len(fields) != 4:
            raise DataError(f"expected 4 tab-separated fields, got {len(fields)}", folder / "ml-100k.inter", number)
        user, item, rating, timestamp = fields
        interactions.append(Interaction(user, item, RATING_EVENT, float(timestamp), float(rating)))
    return items, interactions
