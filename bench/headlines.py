"""Synthetic news headlines for the scale benchmark: PhraseBank sentences, varied.

    python -m bench.headlines --rows 1000000 --out bench/work/headlines-1000000 [--seed 16]

Row ``i`` is PhraseBank sentence ``i mod n`` (the repo's copy, data/financial_phrasebank) with
its numbers redrawn in the same shape (``12.5`` stays one decimal, ``100,000`` keeps its
thousands separator) and its proper names (companies mostly, some places) swapped for others from PhraseBank's own, all
from one seeded generator. So a million rows are a million distinct texts with the length and
vocabulary of real financial headlines (a cache or a deduplicating engine gains nothing), and
the same seed writes the same files byte for byte.

Output: a folder of Parquet files (``id``, ``published``, ``text``), ``FILE_ROWS`` rows each in
row groups of ``ROW_GROUP`` rows (the batch engines' units of work: a row group is one Spark
task, so 2,500 rows give even the smallest size, 10k, four tasks to share two cores).
"""
from __future__ import annotations

import argparse
import csv
import random
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHRASEBANK = ROOT / "data" / "financial_phrasebank" / "sentences_50agree.csv"
SEED = 16
FILE_ROWS = 100_000
ROW_GROUP = 2_500
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
WORD = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)?\b")
# Capitalised words that are common English or headline vocabulary, not company names.
NOT_COMPANIES = frozenset("""The A An In It Its This That These Finnish Finland Helsinki Sweden Swedish
Russia Russian Europe European China Chinese Oyj Group Company Corporation Plc Ltd Inc Bank January February
March April May June July August September October November December Monday Tuesday Wednesday Thursday
Friday Saturday Sunday EUR USD According Net Operating Sales Profit Revenue Mobile Nordic Baltic Estonia
Estonian Oy AB Q1 Q2 Q3 Q4 He She They We Our Also However Following After Before During For From With
Earnings Shares Finance Financial Board Chief Executive Officer President Stockholm Tallinn Oulu Tampere
Espoo Germany German India Poland Latvia Lithuania US UK Japan America North South East West Under Over""".split())


def sentences() -> list[str]:
    with PHRASEBANK.open(encoding="utf-8", newline="") as handle:
        return [row["content"] for row in csv.DictReader(handle)]


def company_names(texts: list[str], min_count: int = 3) -> list[str]:
    """Capitalised words that appear mid-sentence at least ``min_count`` times, never in
    lower case, and are not place or calendar names: PhraseBank's companies (Nokia,
    Componenta, Elcoteq, ...)."""
    counts: Counter = Counter()
    lower = {word for text in texts for word in re.findall(r"\b[a-z]+\b", text)}
    for text in texts:
        for match in WORD.finditer(text):
            word = match.group()
            if match.start() > 0 and word not in NOT_COMPANIES and word.lower() not in lower:
                counts[word] += 1
    return sorted(word for word, count in counts.items() if count >= min_count)


def _redraw(number: str, rng: random.Random, year_shift: int) -> str:
    """A number of the same shape: each digit redrawn, a leading digit never becoming 0,
    separators kept; a year moves by the sentence's ``year_shift`` (so ranges stay ordered)."""
    if len(number) == 4 and number.isdigit() and number.startswith(("19", "20")):
        return str(int(number) + year_shift)
    digits = [str(rng.randint(1 if n == 0 and ch != "0" else 0, 9)) if ch.isdigit() else ch
              for n, ch in enumerate(number)]
    return "".join(digits)


def varied(text: str, companies: list[str], company_set: frozenset, rng: random.Random) -> str:
    year_shift = rng.randint(-4, 4)
    text = NUMBER.sub(lambda m: _redraw(m.group(), rng, year_shift), text)
    return WORD.sub(lambda m: rng.choice(companies) if m.group() in company_set else m.group(), text)


def write(rows: int, out: Path, seed: int = SEED) -> Path:
    """Write ``rows`` headlines under ``out`` (skipped when a complete copy is already there)."""
    import pandas as pd

    marker = out / f"_COMPLETE-{rows}-{seed}-{ROW_GROUP}"
    if marker.is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    base = sentences()
    companies = company_names(base)
    company_set = frozenset(companies)
    rng = random.Random(seed)
    start = datetime(2021, 1, 1, tzinfo=timezone.utc)
    for file_number, begin in enumerate(range(0, rows, FILE_ROWS)):
        end = min(rows, begin + FILE_ROWS)
        texts = [varied(base[i % len(base)], companies, company_set, rng) for i in range(begin, end)]
        published = [start + timedelta(minutes=int(i) * 2) for i in range(begin, end)]  # five years per ~1.3M
        frame = pd.DataFrame({"id": [f"h{i:08d}" for i in range(begin, end)], "published": published, "text": texts})
        frame.to_parquet(out / f"part-{file_number:04d}.parquet", index=False, row_group_size=ROW_GROUP)
    marker.write_text("")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=SEED)
    options = parser.parse_args(argv)
    print(write(options.rows, options.out, options.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
