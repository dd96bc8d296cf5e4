"""Export a fine-tuned model folder to ONNX, optionally quantized to int8 for CPUs.

The exported folder is self-contained for onnxruntime: the .onnx graph, tokenizer.json and
the manifest (labels, temperature). Dynamic int8 quantization (weights int8, activations
quantized per batch) makes MiniLM about four times smaller and several times faster on a CPU
at an agreement with fp32 that ``bench/core.py`` measures.
"""
from __future__ import annotations

import logging
import warnings
import shutil
from pathlib import Path

from shared.model_dir import MANIFEST, METRICS, ModelInfo

logger = logging.getLogger(__name__)

FP32_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
_COPIED = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
           "config.json", METRICS, "README.md")


def export_onnx(model_dir: str | Path, out_dir: str | Path, *, int8: bool = False, opset: int = 17) -> Path:
    """Write ``out_dir`` with model.onnx (and model_int8.onnx with ``int8``) and the manifest.

    The manifest's ``onnx_file`` names the graph a Predictor serves: the int8 one when made.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import shared.models.pooling  # noqa: F401  (registers the mean-pooled head with the Auto classes)

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    info = ModelInfo.load(model_dir)
    if model_dir.resolve() == out_dir.resolve():
        raise ValueError("export into a new folder, not into the model folder itself")
    out_dir.mkdir(parents=True, exist_ok=True)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    sample = tokenizer(["an example to trace", "a second, longer example to trace the graph"],
                       padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    dynamic = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # transformers' mask helper, traced as intended
        torch.onnx.export(
            model,
            tuple(sample[n] for n in names),
            str(out_dir / FP32_FILE),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=dynamic,
            opset_version=opset,
            dynamo=False,
        )
    for name in _COPIED + ((info.spelling_file,) if info.spelling_file else ()):
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out_dir / name)
    if (model_dir / "plots").is_dir():
        shutil.copytree(model_dir / "plots", out_dir / "plots", dirs_exist_ok=True)
    info.onnx_file = FP32_FILE
    if int8:
        quantize_int8(out_dir / FP32_FILE, out_dir / INT8_FILE, keep_fp32=head_nodes(out_dir / FP32_FILE))
        info.onnx_file = INT8_FILE
    info.save(out_dir)
    logger.info("exported %s to %s (%s)", model_dir, out_dir / info.onnx_file, MANIFEST)
    return out_dir


def head_nodes(graph_path: Path, output: str = "logits") -> list[str]:
    """The nodes of the task head: the linear layer that computes ``output`` (a Gemm, or a MatMul
    and the Add of its bias). They stay fp32 when the encoder is quantized, so the int8 graph
    computes exactly what a device bundle does (int8 encoder features, the head in fp32)."""
    import onnx

    nodes = onnx.load(str(graph_path), load_external_data=False).graph.node
    producer = {out: node for node in nodes for out in node.output}
    last = producer.get(output)
    if last is None:
        return []
    found = [last.name]
    if last.op_type == "Gemm":  # onnxruntime's quantizer splits a Gemm into <name>_MatMul and <name>_Add first
        found += [f"{last.name}_MatMul", f"{last.name}_Add"]
    if last.op_type == "Add":
        found += [producer[i].name for i in last.input if i in producer and producer[i].op_type == "MatMul"]
    return found


WEIGHT_TYPES = ("s8", "u8")
"""Signed int8 weights (the suite's servers: fastest on x86) or unsigned (device bundles: x86's
AVX2 kernels round unsigned-by-signed products differently from ARM's, unsigned-by-unsigned
ones exactly, so an unsigned bundle answers alike on every processor; about 40 % slower on x86)."""


def quantize_int8(source: Path, target: Path, *, keep_fp32: list[str] = (), weights: str = "s8") -> Path:
    """Dynamic int8 quantization of the MatMul/Gemm weights with onnxruntime; ``keep_fp32``: node
    names left as they are (the head, see ``head_nodes``); ``weights``: see ``WEIGHT_TYPES``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if weights not in WEIGHT_TYPES:
        raise ValueError(f"weights: {weights!r} is not one of {', '.join(WEIGHT_TYPES)}")

    # The quantizer logs one INFO line per tensor on the root logger, and a WARNING advising
    # pre-processing on every call; keep the console readable.
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # also its advice to pre-process first, for every export
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8 if weights == "s8" else QuantType.QUInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Gemm"],
            nodes_to_exclude=list(keep_fp32),
        )
    finally:
        root.setLevel(level)
    return target
