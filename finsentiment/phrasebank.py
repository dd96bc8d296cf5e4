"""Financial PhraseBank (Malo et al., 2014, CC BY-NC-SA 3.0): the sentiment model's training
data, in ``data/financial_phrasebank`` with the committed train/validation/test split."""
from __future__ import annotations

from pathlib import Path

from shared.data import LabelledTexts, apply_split_file, load_labelled

PHRASEBANK = Path(__file__).resolve().parents[1] / "data" / "financial_phrasebank"


def load_phrasebank(data_dir: str | Path = PHRASEBANK) -> dict[str, LabelledTexts]:
    """Financial PhraseBank (50% agree) on the committed split: {"train", "validation", "test"}.

    Duplicates are kept: the split ids index the raw rows, and every reported figure uses them.
    """
    d = Path(data_dir)
    data = load_labelled(d / "sentences_50agree.csv", text_col="content", label_col="label")
    return apply_split_file(data, d / "split.csv")
