"""Feature graphs: an encoder exported to ONNX with its pooled sentence vector as the output.

The ``probe`` recipe fits its logistic head on frozen features, and later steps refit heads on
the same features without touching the encoder (a new intent taught live, learning on a device).
Those features must be the ones the served model computes, so they come from the same export
path as the served graph: the mean-pooled (and, for heads fitted on features, unit-length)
token vectors, in fp32 or dynamically quantized to int8 exactly as ``export_onnx`` quantizes
the whole classifier. A base encoder's graphs are made once per machine and cached
(``cached_base_features``), so a second probe costs only the embedding.
"""
from __future__ import annotations

import hashlib
import json
import logging
import warnings
import os
import shutil
import tempfile
from pathlib import Path

from shared.export.onnx import quantize_int8

logger = logging.getLogger(__name__)

FEATURES_FP32 = "features.onnx"
FEATURES_INT8 = "features_int8.onnx"
FEATURES_MANIFEST = "features.json"
OUTPUT_NAME = "features"
_TOKENIZER_FILES = ("tokenizer.json", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt")


def _pooling_model(source: Path):
    """A mean-pooled classifier whose ``pooled`` method is the feature extractor: the folder's
    own when ``source`` is a fine-tuned nlpsuite folder, else one built on the base encoder
    (unit-length features, as sentence-transformers encoders are compared)."""
    from transformers import AutoModelForSequenceClassification

    import shared.models.pooling  # noqa: F401  (registers the mean-pooled classifiers)
    from shared.model_dir import MANIFEST
    from shared.models.heads import build_head

    if (source / MANIFEST).is_file():
        model = AutoModelForSequenceClassification.from_pretrained(source, local_files_only=True)
    else:
        model = build_head("sequence-classification", source, ["a", "b"], normalize_pooled=True)
    if not hasattr(model, "pooled"):
        raise ValueError(f"{source}: feature graphs need a BERT or MPNet encoder (a mean-pooled head)")
    return model.eval()


def _features_module(model):
    """A module whose forward is ``model.pooled``: tracing it exports the features, not the logits."""
    import torch

    class PooledFeatures(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            return self.model.pooled(input_ids, attention_mask, token_type_ids)

    return PooledFeatures().eval()


def export_features(source: str | Path, out_dir: str | Path, *, int8: bool = True, opset: int = 17,
                    weights: str = "s8") -> Path:
    """Write ``out_dir`` with the fp32 feature graph (and the int8 one with ``int8``, its weights
    quantized as ``weights`` says: ``shared.export.onnx.WEIGHT_TYPES``), the tokenizer files and
    ``features.json`` (dimension, whether unit length, the source)."""
    import torch
    from transformers import AutoTokenizer

    source, out_dir = Path(source), Path(out_dir)
    model = _pooling_model(source)
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = tokenizer(["an example to trace", "a second, longer example to trace the graph"],
                       padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # transformers' mask helper, traced as intended
        torch.onnx.export(_features_module(model), tuple(sample[n] for n in names), str(out_dir / FEATURES_FP32),
                          input_names=names, output_names=[OUTPUT_NAME],
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names} | {OUTPUT_NAME: {0: "batch"}},
                          opset_version=opset, dynamo=False)
        dimension = int(model.pooled(**{n: sample[n] for n in names}).shape[-1])
    if int8:
        quantize_int8(out_dir / FEATURES_FP32, out_dir / FEATURES_INT8, weights=weights)
    tokenizer.save_pretrained(str(out_dir))
    manifest = {"dimension": dimension, "normalized": bool(getattr(model.config, "normalize_pooled", False)),
                "source": str(source), "weights": weights,
                "files": {"fp32": FEATURES_FP32, "int8": FEATURES_INT8 if int8 else None}}
    (out_dir / FEATURES_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out_dir


def _cache_root() -> Path:
    root = os.environ.get("NLPSUITE_CACHE") or Path.home() / ".cache" / "nlpsuite"
    return Path(root) / "features"


def _fingerprint(folder: Path) -> str:
    """Which encoder a cached graph was made from: its config and the size and time of its weights."""
    digest = hashlib.sha256(str(folder.resolve()).encode())
    for path in sorted(folder.iterdir()):
        if path.is_file() and (path.suffix in {".json", ".safetensors", ".bin"}):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:16]


def cached_base_features(base: str | Path) -> Path:
    """The feature graphs of a pretrained encoder (a registered name or a folder), exported
    once per machine into the cache (``$NLPSUITE_CACHE/features``); a new version appears
    whole (written aside, then renamed), so a killed export leaves nothing half-written."""
    from shared.models import resolve_model

    folder = resolve_model(base)
    target = _cache_root() / f"{folder.name}-{_fingerprint(folder)}"
    if (target / FEATURES_MANIFEST).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("exporting the feature graphs of %s (once per machine) into %s", base, target)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        export_features(folder, staging, int8=True)
        try:
            staging.rename(target)
        except OSError:  # another process finished first: use its copy
            if not (target / FEATURES_MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
