"""``nlpsuite device pack``: a fine-tuned model folder as a bundle for the device runtime.

The bundle (``shared.device.bundle``) holds the int8 encoder graph with pooled features as its
output, the head in a small file of its own, the tokenizer, the labels, temperature and
abstention threshold, the spelling vocabulary when the model uses one, a memory of the training
set (a seeded sample of at most ``memory_per_class`` int8 feature rows per label, so learning on
the device does not forget the old labels), and a manifest with every file's sha256 and size.
``layers`` distils a shallower student first (``shared.training.student``) and
``vocabulary_texts`` prunes the vocabulary to what those texts use
(``shared.export.vocabulary``). The bundle appears whole or not at all.
"""
from __future__ import annotations

import json
import logging
import platform
import random
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from shared.atomic import replace_folder
from shared.data import LabelledTexts
from shared.errors import CommandError
from shared.model_dir import ModelInfo

logger = logging.getLogger(__name__)
FIRST_VERSION = "00000000T000000000000"


def _source(model_dir) -> Path:
    from shared.model_versions import served_folder

    folder = served_folder(model_dir)
    info = ModelInfo.load(folder)
    if info.head_file:
        parent = info.hyperparameters.get("taught_from", "the version it was taught from")
        raise CommandError(f"{folder} was taught labels after training (shared.teaching): its head is not in its "
                           f"weights; pack {parent} and teach the device with `nlpsuite-device learn`")
    if not (folder / "model.safetensors").is_file():
        raise CommandError(f"{folder} holds no fine-tuned weights (model.safetensors): pack a folder that "
                           "`nlpsuite finetune` wrote, or a version of `nlpsuite run` (they keep their weights)")
    return folder


def memory_sample(data: LabelledTexts, per_class: int | None, seed: int = 0) -> LabelledTexts:
    """At most ``per_class`` examples of each label (seeded), all when None."""
    if per_class is None:
        return data
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(data.labels):
        by_label.setdefault(label, []).append(i)
    chosen = sorted(i for rows in by_label.values() for i in rng.sample(rows, min(per_class, len(rows))))
    return data.subset(chosen)


def _head(folder: Path, info: ModelInfo):
    from safetensors.numpy import load_file

    from shared.device.bundle import Head

    weights = load_file(str(folder / "model.safetensors"))
    return Head(weights["classifier.weight"].astype(np.float32), weights["classifier.bias"].astype(np.float32),
                list(info.labels), float(info.temperature), float(info.confidence_threshold or 0.0))


def _shrink(source: Path, work: Path, data: LabelledTexts | None, layers: int | None,
            vocabulary_texts: list[str] | None, info: ModelInfo) -> tuple[Path, dict]:
    """The folder to pack: ``source``, its vocabulary pruned, then a student distilled from it."""
    facts: dict = {}
    folder = source
    if vocabulary_texts:
        from shared.export.vocabulary import prune_vocabulary

        facts["vocabulary"] = prune_vocabulary(folder, vocabulary_texts + (data.texts if data else []), work / "pruned")
        folder = work / "pruned"
    if layers:
        if data is None:
            raise CommandError("--layers distils a student on the training texts: give them with --data")
        from shared.training.student import distil_student

        facts["student"] = distil_student(folder, data.texts, layers, work / "student", max_length=info.max_length)
        folder = work / "student"
    return folder, facts


def pack_bundle(model_dir, out_dir, *, data: LabelledTexts | None = None, memory_per_class: int | None = 64,
                layers: int | None = None, vocabulary_texts: list[str] | None = None,
                threads: int | None = None, weights: str = "u8") -> Path:
    """Write the bundle ``out_dir`` from ``model_dir`` (see the module docstring). ``weights``:
    how the encoder's weights are quantized (``shared.export.onnx.WEIGHT_TYPES``): unsigned by
    default, so the bundle answers alike on x86 and ARM; ``s8`` as the suite's servers do."""
    from shared.device.bundle import ENCODER, FORMAT_VERSION, MANIFEST, TOKENIZER, file_entry
    from shared.export.features import FEATURES_INT8, export_features

    source, out_dir = _source(model_dir), Path(out_dir)
    info = ModelInfo.load(source)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}-packing-", dir=out_dir.parent) as tmp:
        work, staging = Path(tmp), Path(tmp) / "bundle"
        folder, facts = _shrink(source, work, data, layers, vocabulary_texts, info)
        graphs = export_features(folder, work / "graphs", int8=True, weights=weights)
        staging.mkdir()
        shutil.copy2(graphs / FEATURES_INT8, staging / ENCODER)
        shutil.copy2(graphs / "tokenizer.json", staging / TOKENIZER)
        files = [ENCODER, TOKENIZER] + _spelling(source, info, staging) + _memory(graphs, data, memory_per_class,
                                                                                   info, threads, staging)
        _first_head(staging, _head(folder, info))
        manifest = _manifest(source, folder, info, graphs, facts, {name: file_entry(staging / name) for name in files},
                             memory_per_class)
        manifest["format_version"] = FORMAT_VERSION
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        replace_folder(staging, out_dir)
    logger.info("packed %s into %s (%.1f MB)", source, out_dir, manifest["size_mb"])
    return out_dir


def _spelling(source: Path, info: ModelInfo, staging: Path) -> list[str]:
    from shared.data.spelling import SpellingCorrector
    from shared.device.bundle import SPELLING

    if not info.spelling_file:
        return []
    SpellingCorrector.load(source / info.spelling_file).speller.save(staging / SPELLING)
    return [SPELLING]


def _memory(graphs: Path, data: LabelledTexts | None, per_class: int | None, info: ModelInfo, threads,
            staging: Path) -> list[str]:
    from shared.device.bundle import MEMORY, Examples
    from shared.inference.features import FeatureEncoder

    if data is None:
        return []
    unknown = sorted(set(data.labels) - set(info.labels))
    if unknown:
        raise CommandError(f"{data.source}: label(s) the model does not know: {', '.join(unknown[:5])}")
    sample = memory_sample(data, per_class)
    # one text at a time, as the device embeds what it learns: a dynamically quantized graph's
    # answer to a text depends on the batch it is in
    features = FeatureEncoder(graphs, precision="int8", threads=threads, max_length=info.max_length,
                              batch_size=1).encode(sample.texts, progress=True, description="memory")
    Examples(features, list(sample.labels)).save(staging / MEMORY)
    return [MEMORY]


def _first_head(staging: Path, head) -> None:
    from shared.device.bundle import HEAD_FILE, HEAD_INFO, HEADS, POINTER, file_entry

    folder = staging / HEADS / FIRST_VERSION
    folder.mkdir(parents=True)
    head.save(folder)
    (folder / HEAD_INFO).write_text(json.dumps({"parent": None, "note": "as packed",
                                                "files": {HEAD_FILE: file_entry(folder / HEAD_FILE)}}) + "\n")
    (staging / HEADS / POINTER).write_text(json.dumps({"version": FIRST_VERSION}) + "\n")


def _versions() -> dict:
    import importlib.metadata as metadata

    names = ("onnxruntime", "tokenizers", "numpy", "torch", "transformers")
    return {"python": platform.python_version(), **{n: metadata.version(n) for n in names}}


def _manifest(source: Path, folder: Path, info: ModelInfo, graphs: Path, facts: dict, files: dict,
              memory_per_class) -> dict:
    tokenizer = json.loads((graphs / "tokenizer.json").read_text(encoding="utf-8"))
    pad = next((t for t in tokenizer.get("added_tokens", []) if t["content"] == "[PAD]"), {"id": 0, "content": "[PAD]"})
    features = json.loads((graphs / "features.json").read_text(encoding="utf-8"))
    metrics_file = source / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "packer": _versions(),
            "source": str(source), "recipe": info.recipe, "labels": list(info.labels), "max_length": info.max_length,
            "pad_id": pad["id"], "pad_token": pad["content"], "dimension": features["dimension"],
            "normalized": features["normalized"], "weights": features["weights"],
            "layers": config.get("num_hidden_layers"),
            "vocabulary": config.get("vocab_size"), "memory_per_class": memory_per_class,
            "metrics": {k: metrics.get(k) for k in ("evaluated_on", "accuracy", "macro_f1", "ece", "n_examples")},
            "packing": facts, "files": files,
            "size_mb": round(sum(f["bytes"] for f in files.values()) / 1e6, 2)}
