"""Spelling correction against the training vocabulary: "my crad was stolen" reads "card".

A fine-tuned classifier sees a misspelt word as unfamiliar word pieces, and typo augmentation
in training recovers only part of that (the figures: docs/chatbot.md, "Typos"). Most typos are one edit (a swap, a dropped, doubled or neighbouring
letter) away from a word the model was trained on, so a message's unknown words are mapped to
the most frequent training word one edit away before the tokenizer sees them (SymSpell's
symmetric-delete lookup, optimal string alignment distance, so a swap is one edit). The lookup
itself is ``shared.device.spelling.Speller``, standard library only, so a device bundle
corrects every message exactly as the suite's ``Predictor`` does.

The training vocabulary is saved in the model folder (``spelling.json``) and the corrector is
rebuilt from it where the model is served. The most frequent English words (symspellpy's
frequency list) are known too, so a correctly spelt word the training data lacks is left
alone; training words rank above them. Words under three letters are never changed.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

SPELLING_FILE = "spelling.json"
ENGLISH_WORDS = 30_000
_WORD = re.compile(r"[A-Za-z]+")
_TRAINING_BOOST = 10 ** 6  # any training word outranks any English-only word
_LOADED: dict = {}  # sha256 of a saved vocabulary -> its corrector (see SpellingCorrector.load)


def _english_frequencies(limit: int) -> Iterable[tuple[str, int]]:
    import symspellpy

    path = Path(symspellpy.__file__).with_name("frequency_dictionary_en_82_765.txt")
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            if n >= limit:
                break
            word, count = line.split()
            yield word, int(count)


class SpellingCorrector:
    """Maps each unknown word of a text to the most frequent known word one edit away.

    Args:
        words: training vocabulary, lowercase word -> count.
        english_words: how many of the most frequent English words are known besides them.
        max_distance: largest edit distance corrected (1 covers one typo per word).
    """

    def __init__(self, words: dict[str, int], *, english_words: int = ENGLISH_WORDS, max_distance: int = 1):
        from shared.device.spelling import Speller

        if max_distance != 1:
            raise ValueError("spelling correction corrects one edit per word (max_distance 1)")
        self.words = dict(words)
        self.english_words = english_words
        self.max_distance = max_distance
        counts = dict(_english_frequencies(english_words))
        for word, count in self.words.items():
            counts[word] = counts.get(word, 0) + count * _TRAINING_BOOST
        self.speller = Speller(counts)
        """The lookup with every known word's count (what a device bundle packs)."""

    @classmethod
    def from_texts(cls, texts: Iterable[str], **options) -> "SpellingCorrector":
        """The vocabulary of ``texts`` (the training texts, before any typo augmentation)."""
        counts = Counter(w.lower() for text in texts for w in _WORD.findall(text))
        return cls(dict(counts), **options)

    def correct(self, text: str) -> str:
        """``text`` with unknown words replaced; everything else (case, punctuation) kept."""
        return self.speller.correct(text)

    def save(self, folder: str | Path) -> Path:
        """Write the vocabulary as ``spelling.json`` in ``folder`` (the model folder); its path."""
        path = Path(folder) / SPELLING_FILE
        path.write_text(json.dumps({"english_words": self.english_words, "max_distance": self.max_distance,
                                    "words": dict(sorted(self.words.items()))}, indent=0) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SpellingCorrector":
        """Rebuild the corrector from a saved vocabulary; a broken file is a DataError naming it.

        A vocabulary loaded before (the same bytes) is not built again: a server that swaps in a
        new version of a model trained on the same texts reuses its corrector, and building one is
        half a second of pure Python that would hold up every request meanwhile."""
        from .errors import DataError

        path = Path(path)
        try:
            raw = path.read_bytes()
            key = hashlib.sha256(raw).hexdigest()
            if key not in _LOADED:
                data = json.loads(raw.decode("utf-8"))
                _LOADED.clear()  # one vocabulary at a time is what a server swaps between
                _LOADED[key] = cls({str(w): int(c) for w, c in data["words"].items()},
                                   english_words=int(data.get("english_words", ENGLISH_WORDS)),
                                   max_distance=int(data.get("max_distance", 1)))
            return _LOADED[key]
        except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
            raise DataError(f"not a spelling vocabulary ({exc})", path=str(path), field="words") from exc
