"""A smaller vocabulary for a small device: the word pieces a domain's texts use, [UNK] for the rest.

MiniLM's 30,522-entry embedding table holds 11.7M of its 22.7M parameters; a bank's support
messages use a few thousand of those pieces. The pruned model keeps the special tokens, every
piece the given texts tokenise into, and the single ASCII letters and digits (plain and as
``##`` continuations), so a word it never saw still splits into letters before it becomes
[UNK]. The tokenizer's ids are renumbered in their old order and the embedding rows sliced to
match; nothing else in the model changes.
"""
from __future__ import annotations

import json
import shutil
import string
from pathlib import Path
from typing import Iterable

_KEEP_CHARACTERS = string.ascii_lowercase + string.digits


def kept_pieces(tokenizer_json: dict, texts: Iterable[str]) -> list[str]:
    """The pieces to keep, in their old id order."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(json.dumps(tokenizer_json))
    vocab: dict[str, int] = tokenizer_json["model"]["vocab"]
    keep = {token["content"] for token in tokenizer_json.get("added_tokens", [])}
    keep |= {tokenizer_json["model"]["unk_token"]}
    keep |= {piece for ch in _KEEP_CHARACTERS for piece in (ch, f"##{ch}") if piece in vocab}
    for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        keep.update(encoding.tokens)
    return sorted(keep & set(vocab), key=vocab.__getitem__)


def renumbered(tokenizer_json: dict, pieces: list[str]) -> dict:
    """``tokenizer_json`` with only ``pieces``, numbered 0.. in their order (special ids too)."""
    new_ids = {piece: i for i, piece in enumerate(pieces)}
    out = json.loads(json.dumps(tokenizer_json))
    out["model"]["vocab"] = new_ids
    for token in out.get("added_tokens", []):
        token["id"] = new_ids[token["content"]]
    special = (out.get("post_processor") or {}).get("special_tokens", {})
    for entry in special.values():
        entry["ids"] = [new_ids[t] for t in entry["tokens"]]
    if out.get("padding"):
        out["padding"]["pad_id"] = new_ids.get(out["padding"].get("pad_token", "[PAD]"), 0)
    return out


def prune_vocabulary(model_dir: str | Path, texts: Iterable[str], out_dir: str | Path) -> dict:
    """Write ``out_dir``: the model folder of ``model_dir`` with the vocabulary ``texts`` need.
    Returns {"before": n, "after": n} (vocabulary sizes)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    import shared.models.pooling  # noqa: F401  (registers the mean-pooled classifiers)

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    tokenizer_json = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    pieces = kept_pieces(tokenizer_json, texts)
    old_ids = torch.tensor([tokenizer_json["model"]["vocab"][p] for p in pieces])
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, local_files_only=True)
    embeddings = model.get_input_embeddings()
    smaller = torch.nn.Embedding(len(pieces), embeddings.embedding_dim, padding_idx=0)
    smaller.weight.data = embeddings.weight.data[old_ids].clone()
    model.set_input_embeddings(smaller)
    model.config.vocab_size = len(pieces)
    model.config.pad_token_id = pieces.index("[PAD]") if "[PAD]" in pieces else 0
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    (out_dir / "tokenizer.json").write_text(json.dumps(renumbered(tokenizer_json, pieces)), encoding="utf-8")
    (out_dir / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")
    for name in ("tokenizer_config.json", "special_tokens_map.json", "nlpsuite.json", "metrics.json", "spelling.json"):
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out_dir / name)
    return {"before": len(tokenizer_json["model"]["vocab"]), "after": len(pieces)}
