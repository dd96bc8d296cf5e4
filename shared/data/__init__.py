"""Loading, validating and splitting labelled texts: one entry point for all three products,
so every bad file fails the same way (a DataError naming file, line and field). The core names
no dataset: each product loads its own (``chatbot.banking77``, ``finsentiment.phrasebank``)."""

from .augment import add_typo_copies, noisy_copy, with_typos
from .errors import DataError
from .loading import LabelledTexts, load_labelled
from .splits import apply_split_file, drop_duplicates, stratified_split

__all__ = [
    "add_typo_copies",
    "noisy_copy",
    "with_typos",
    "DataError",
    "LabelledTexts",
    "apply_split_file",
    "drop_duplicates",
    "load_labelled",
    "stratified_split",
]
