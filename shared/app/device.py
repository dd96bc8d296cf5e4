"""`nlpsuite device pack`: a fine-tuned model folder as a bundle for the device runtime.

    nlpsuite device pack --model var/models/intents --out intents.bundle \\
        --data data/banking77/train.csv --label-col category [--memory-per-class 64] \\
        [--layers 3] [--vocab-from data/banking77/train.csv ...]

The bundle runs with ``nlpsuite-device`` (``make device-wheel``: numpy, onnxruntime and
tokenizers only); see docs/device.md.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from shared.data import DataError


def read_texts(path: str | Path, text_col: str = "text") -> list[str]:
    """The texts of a .txt file (one a line), or the ``text_col`` column of a .csv or .jsonl file."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("file not found", path=str(path)) from None
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text", path=str(path)) from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(raw.splitlines())
        if text_col not in (reader.fieldnames or []):
            raise DataError(f"no column {text_col!r}", path=str(path), line=1, field=text_col)
        return [row[text_col] for row in reader if (row.get(text_col) or "").strip()]
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        texts = []
        for n, line in enumerate(raw.splitlines(), 1):
            if line.strip():
                try:
                    texts.append(str(json.loads(line)[text_col]))
                except (ValueError, KeyError, TypeError):
                    raise DataError(f"not a JSON object with {text_col!r}", path=str(path), line=n,
                                    field=text_col) from None
        return texts
    return [line.strip() for line in raw.splitlines() if line.strip()]


def cmd_pack(options) -> int:
    """Pack ``--model`` into ``--out``; one JSON line: where, how big, what it holds."""
    from shared.data import load_labelled
    from shared.export.device import pack_bundle
    from shared.model_dir import ModelInfo
    from shared.model_versions import served_folder

    data = None
    if options.data:
        labels = ModelInfo.load(served_folder(options.model)).labels
        data = load_labelled(options.data, options.text_col, options.label_col, known_labels=labels)
    vocabulary = [t for path in options.vocab_from for t in read_texts(path, options.text_col)] or None
    out = pack_bundle(options.model, options.out, data=data, memory_per_class=options.memory_per_class or None,
                      layers=options.layers, vocabulary_texts=vocabulary, threads=options.threads,
                      weights=options.weights)
    manifest = json.loads((out / "manifest.json").read_text())
    print(json.dumps({"bundle": str(out), "size_mb": manifest["size_mb"], "layers": manifest["layers"],
                      "vocabulary": manifest["vocabulary"], "labels": len(manifest["labels"]),
                      "memory": "memory.npz" in manifest["files"]}))
    return 0


def register(subparsers) -> None:
    """The `device` command and its `pack` subcommand."""
    device = subparsers.add_parser("device", help="bundles for the device runtime (nlpsuite-device)")
    sub = device.add_subparsers(dest="device_command", required=True, metavar="COMMAND")
    p = sub.add_parser("pack", help="pack a fine-tuned model folder as a bundle")
    p.add_argument("--model", required=True, help="a model folder with its weights, or a versions folder")
    p.add_argument("--out", required=True, help="the bundle folder to write (replaced whole)")
    p.add_argument("--data", help="the training file: its sample is the bundle's memory, so a device that "
                                  "learns keeps its old labels (and the student's distillation texts)")
    p.add_argument("--text-col", default="text")
    p.add_argument("--label-col", default="label")
    p.add_argument("--memory-per-class", type=int, default=64,
                   help="feature rows kept per label in the memory (default 64; 0: every example)")
    p.add_argument("--layers", type=int, help="distil a student with this many layers (from the model's own)")
    p.add_argument("--vocab-from", nargs="*", default=[], metavar="FILE",
                   help="keep only the word pieces these texts use (.txt lines, or the text column of .csv/.jsonl)")
    p.add_argument("--weights", choices=["u8", "s8"], default="u8",
                   help="int8 weight type: u8 (default) answers alike on x86 and ARM; s8 is what the suite's "
                        "servers use (about 40%% faster on x86, but x86 and ARM round differently)")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_pack)
