"""Seeded typos: the misspellings people make on phone keyboards, for training and for tests.

Customers type "my crad was stolen!!" and still expect to be understood. ``with_typos``
perturbs a text the way fingers do (two letters swapped, one dropped, one doubled, or a
neighbouring key hit instead), always from a seeded generator, so a noisy test set is the
same every run and a figure measured on it can be compared with the next one.
"""
from __future__ import annotations

import random

from .loading import LabelledTexts

# Neighbours on a QWERTY keyboard: the key most often hit instead of the intended one.
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _key in enumerate(_row):
        near = [_row[j] for j in (_c - 1, _c + 1) if 0 <= j < len(_row)]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_ROWS):
                near += [_ROWS[_other][j] for j in (_c - 1, _c, _c + 1) if 0 <= j < len(_ROWS[_other])]
        _NEIGHBOURS[_key] = "".join(near)


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    kind = rng.randrange(4)
    if kind == 0 and i < len(word) - 1:  # swap with the next letter: "card" -> "crad"
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:  # dropped: "card" -> "crd"
        return word[:i] + word[i + 1:]
    if kind == 2:  # doubled: "card" -> "carrd"
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower())
    if not near:
        return word[:i] + word[i + 1:]
    key = rng.choice(near)
    return word[:i] + (key.upper() if word[i].isupper() else key) + word[i + 1:]


def with_typos(text: str, rng: random.Random, rate: float = 0.3) -> str:
    """``text`` with each word of 3 or more letters misspelt with probability ``rate``
    (at least one word, when there is any such word)."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if sum(ch.isalpha() for ch in w) >= 3]
    if not candidates:
        return text
    chosen = [i for i in candidates if rng.random() < rate] or [rng.choice(candidates)]
    for i in chosen:
        words[i] = _typo(words[i], rng)
    return " ".join(words)


def noisy_copy(data: LabelledTexts, *, seed: int, rate: float = 0.3) -> LabelledTexts:
    """Every example of ``data`` once more, misspelt (same labels, same order, seeded)."""
    rng = random.Random(seed)
    return LabelledTexts([with_typos(t, rng, rate) for t in data.texts], list(data.labels),
                         f"{data.source} (typos, seed {seed})", None)


def add_typo_copies(data: LabelledTexts, share: float, *, seed: int, rate: float = 0.3) -> LabelledTexts:
    """``data`` plus a misspelt copy of a seeded ``share`` of its examples (training augmentation)."""
    if share <= 0 or not len(data):
        return data
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(len(data)), max(1, round(min(share, 1.0) * len(data)))))
    texts = list(data.texts) + [with_typos(data.texts[i], rng, rate) for i in picked]
    labels = list(data.labels) + [data.labels[i] for i in picked]
    lines = (list(data.lines) + [data.lines[i] for i in picked]) if data.lines is not None else None
    return LabelledTexts(texts, labels, data.source, lines)
