"""BANKING77 (Casanueva et al., 2020, CC BY 4.0): the 77 banking intents the bot's classifier
starts from, as published in ``data/banking77`` (train and test, labels checked against the
category list)."""
from __future__ import annotations

import json
from pathlib import Path

from shared.data import DataError, LabelledTexts, load_labelled

BANKING77 = Path(__file__).resolve().parents[1] / "data" / "banking77"


def load_banking77(data_dir: str | Path = BANKING77) -> dict[str, LabelledTexts]:
    """BANKING77 as published: {"train", "test"}, both checked against categories.json."""
    d = Path(data_dir)
    cats = d / "categories.json"
    try:
        known = json.loads(cats.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read the category list: {e}", cats) from None
    return {
        name: load_labelled(d / f"{name}.csv", text_col="text", label_col="category", known_labels=known)
        for name in ("train", "test")
    }
