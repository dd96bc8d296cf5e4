"""The scale benchmark's headline generator: distinct, same-shaped, reproducible texts."""
from __future__ import annotations

import random
import re

import pandas as pd

from bench import headlines


def test_numbers_keep_their_shape_and_years_move_together():
    rng = random.Random(3)
    for number in ("20.5", "19.75", "2,345", "100,000", "7", "0.3"):
        redrawn = headlines._redraw(number, rng, year_shift=2)
        assert re.sub(r"\d", "9", redrawn) == re.sub(r"\d", "9", number), (number, redrawn)
        assert redrawn[0] != "0" or number[0] == "0"
    assert headlines._redraw("2007", rng, year_shift=2) == "2009"
    assert headlines._redraw("1998", rng, year_shift=-3) == "1995"


def test_written_rows_are_reproducible_distinct_and_complete(tmp_path):
    first = pd.read_parquet(headlines.write(1200, tmp_path / "a", seed=5))
    again = pd.read_parquet(headlines.write(1200, tmp_path / "b", seed=5))
    other = pd.read_parquet(headlines.write(1200, tmp_path / "c", seed=6))
    assert len(first) == 1200 and first["id"].is_unique
    assert list(first.columns) == ["id", "published", "text"]
    assert first["text"].equals(again["text"])
    assert not first["text"].equals(other["text"])
    assert first["text"].nunique() > 0.95 * len(first)


def test_rows_past_the_corpus_are_new_texts(tmp_path):
    n = len(headlines.sentences())
    texts = pd.read_parquet(headlines.write(n + 200, tmp_path / "h"))["text"]
    second_pass = texts.iloc[n:].reset_index(drop=True)
    assert (second_pass != texts.iloc[:200].reset_index(drop=True)).mean() > 0.9
