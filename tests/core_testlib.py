"""Helpers for the core tests: a keyword-learnable synthetic data set and tiny-model arguments.

They live in their own module (not conftest.py) because several conftest.py files exist under
tests/ and ``from conftest import ...`` would pick whichever one was imported first.
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LABELS = ["card", "refund", "transfer"]

# Each label has its own keywords; the fillers are shared, so only the keywords tell the label.
_KEYWORDS = {
    "card": ["card", "debit", "pin", "atm", "contactless", "plastic", "expired", "chip"],
    "refund": ["refund", "money", "back", "return", "reimburse", "cashback", "merchant", "purchase"],
    "transfer": ["transfer", "send", "wire", "iban", "recipient", "swift", "beneficiary", "payee"],
}
_OPENERS = ["please", "hello", "hi", "excuse me", "sorry", "quick question", "urgent", "help"]
_MIDDLES = ["i need help with my", "what about the", "there is a problem with my", "how do i fix the",
            "can you check my", "why is my", "i want to ask about the", "something is wrong with my"]
_CLOSERS = ["today", "now", "this week", "again", "asap", "thanks", "for my account", "right away"]


def _sentences(label: str, n: int, rng: random.Random, exclude: set[str]) -> list[str]:
    out: list[str] = []
    words = _KEYWORDS[label]
    while len(out) < n:
        k1, k2 = rng.sample(words, 2)
        text = f"{rng.choice(_OPENERS)} {rng.choice(_MIDDLES)} {k1} {k2} {rng.choice(_CLOSERS)}"
        if text not in exclude:
            exclude.add(text)
            out.append(text)
    return out


def make_rows(per_label: int, seed: int, exclude: set[str]) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = [(text, label) for label in LABELS for text in _sentences(label, per_label, rng, exclude)]
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows, header=("text", "label")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def tiny_args(tiny_base: Path, **overrides):
    from shared.training import FineTuneArgs

    # A randomly initialised transformer sits on a loss plateau for a few epochs before the
    # keywords reach [CLS]; a high learning rate and patience get it past that in ~2 s.
    values = dict(base=str(tiny_base), epochs=15, learning_rate=3e-3, batch_size=16, threads=1,
                  progress=False, logging_steps=5, early_stopping_patience=4)
    values.update(overrides)
    return FineTuneArgs(**values)




def build_tiny_bert(folder: Path, words, *, hidden_size: int = 32, max_positions: int = 128) -> Path:
    """A randomly initialised 2-layer BERT whose WordPiece vocabulary is ``words``: a real
    Hugging Face folder (weights, tokenizer.json) made in a second, with no download."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(words))]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden_size, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=2 * hidden_size,
                        max_position_embeddings=max_positions)
    BertModel(config).save_pretrained(folder)
    return folder


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    """``path`` is a real PNG (signature and a plausible size), not an empty or broken plot."""
    path = Path(path)
    assert path.is_file(), path
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert len(data) > 1000, f"{path} is suspiciously small ({len(data)} bytes)"
