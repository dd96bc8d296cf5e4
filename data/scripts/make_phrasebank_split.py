"""Make (or check) the fixed train/validation/test split of Financial PhraseBank (50% agree).

The PhraseBank has no official split, so the project defines one and commits it: every reported
figure uses the same rows. Stratified 80/10/10 with seed 42: first 80/20, then the 20 halved,
both with sklearn's train_test_split(stratify=labels, random_state=42). Output: split.csv with
columns id,split, where id is the zero-based index of the data row (header excluded), sorted by id.

    python data/scripts/make_phrasebank_split.py          # (re)write split.csv
    python data/scripts/make_phrasebank_split.py --check  # exit 1 if the committed file differs
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import Counter
from pathlib import Path

from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
DEFAULT_DIR = HERE.parent / "financial_phrasebank"
SEED = 42


def make_split(labels: list[str], seed: int = SEED) -> list[str]:
    """Return the split name of each row index."""
    ids = list(range(len(labels)))
    train, rest = train_test_split(ids, test_size=0.2, stratify=labels, random_state=seed)
    val, test = train_test_split(rest, test_size=0.5, stratify=[labels[i] for i in rest], random_state=seed)
    names = [""] * len(labels)
    for part, name in ((train, "train"), (val, "validation"), (test, "test")):
        for i in part:
            names[i] = name
    return names


def render(names: list[str]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "split"])
    w.writerows(enumerate(names))
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--check", action="store_true", help="verify the committed split.csv; exit 1 if it differs")
    args = ap.parse_args(argv)

    with (args.data_dir / "sentences_50agree.csv").open(encoding="utf-8", newline="") as f:
        labels = [row["label"].strip() for row in csv.DictReader(f)]
    names = make_split(labels)
    text = render(names)
    target = args.data_dir / "split.csv"

    if args.check:
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            print(f"{target}: up to date ({len(names)} rows)")
            return 0
        print(f"{target}: missing or differs from what this script makes; rerun without --check", file=sys.stderr)
        return 1

    target.write_text(text, encoding="utf-8", newline="")
    for name in ("train", "validation", "test"):
        counts = Counter(lab for lab, n in zip(labels, names) if n == name)
        print(f"{name}: {sum(counts.values())} {dict(sorted(counts.items()))}")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
