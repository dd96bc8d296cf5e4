"""Spelling correction with the standard library: each unknown word to the most frequent known
word one edit away ("crad" reads "card").

The symmetric-delete idea of SymSpell (Garbe 2012): every known word is indexed under itself and
each form with one letter deleted; a word's candidates are the known words sharing one of those
keys, kept when the optimal string alignment distance is 1 (a swap of neighbours is one edit).
The best is the most frequent, ties broken alphabetically, so the suite's ``Predictor`` and the
device runtime, which both use this class, correct every message the same way. Words under three
letters and words with anything but ASCII letters are left alone.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

_WORD = re.compile(r"[A-Za-z]+")
MIN_LENGTH = 3


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def within_one_edit(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one insertion, deletion, substitution or swap of neighbours."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


class Speller:
    """Known words with their counts; ``correct`` maps unknown words of a text to the best known one."""

    def __init__(self, counts: dict[str, int]):
        self.counts = {w.lower(): int(c) for w, c in counts.items()}
        self._index: dict[str, list[str]] = {}
        for word in self.counts:
            for key in _deletes(word) | {word}:
                self._index.setdefault(key, []).append(word)

    def suggest(self, word: str) -> str | None:
        """The most frequent known word one edit from ``word`` (alphabetically first on a tie), or None."""
        candidates = {c for key in _deletes(word) | {word} for c in self._index.get(key, ())}
        found = [c for c in candidates if within_one_edit(word, c)]
        return min(found, key=lambda c: (-self.counts[c], c)) if found else None

    def correct(self, text: str) -> str:
        """``text`` with unknown words replaced; case kept as far as it can be, all else untouched."""
        def replace(match: re.Match) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < MIN_LENGTH or lower in self.counts:
                return word
            term = self.suggest(lower)
            if term is None:
                return word
            return term.upper() if word.isupper() else term.capitalize() if word[0].isupper() else term

        return _WORD.sub(replace, text)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"counts": self.counts}, separators=(",", ":")) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Speller":
        return cls(json.loads(Path(path).read_text(encoding="utf-8"))["counts"])
