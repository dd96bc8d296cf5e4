"""Inference backends: each maps a padded numpy batch to logits.

Backends are registered by name and imported lazily, so the onnxruntime backend runs on a
machine without torch (a Raspberry Pi, a slim container) and the torch backend serves any
folder ``nlpsuite finetune`` wrote.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from shared.model_dir import ModelFolderError, ModelInfo
from shared.registry import Registry


class Backend(Protocol):
    """Runs a model folder's graph: encoded inputs in, logits out (torch or onnxruntime)."""

    input_names: list[str]

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray: ...


BACKENDS: Registry[Callable[[Path, ModelInfo, int | None], Backend]] = Registry("backend", "nlpsuite.backends")
"""Backend factories by name (``Predictor(folder, backend=name)``); packages may add their own."""


def register_backend(name: str):
    """Make a backend available by name to every Predictor (``Predictor(folder, name)``)."""
    return BACKENDS.register(name)


def available_backends() -> list[str]:
    """The names a Predictor accepts as ``backend``."""
    return BACKENDS.names()


def create_backend(name: str, folder: Path, info: ModelInfo, threads: int | None) -> Backend:
    """The backend ``name`` for ``folder``, with at most ``threads`` intra-op threads."""
    return BACKENDS.get(name)(folder, info, threads)


@register_backend("torch")
class TorchBackend:
    """The fine-tuned Hugging Face model in fp32 on the CPU (or a GPU when one is there)."""

    def __init__(self, folder: Path, info: ModelInfo, threads: int | None):
        import torch
        from transformers import AutoModelForSequenceClassification

        import shared.models.pooling  # noqa: F401  (registers the mean-pooled head with the Auto classes)

        if info.head_file:
            raise ModelFolderError(f"{folder} was taught new labels after training (its head is {info.head_file}); "
                                   "use backend='onnx'")
        if not any((folder / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")):
            raise ModelFolderError(f"{folder} holds no torch weights (an ONNX export?); use backend='onnx'")
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True).eval()
        self.input_names = ["input_ids", "attention_mask", "token_type_ids"]

    def __call__(self, batch):
        torch = self._torch
        with torch.inference_mode():
            inputs = {k: torch.from_numpy(v) for k, v in batch.items() if k in self.input_names}
            return self.model(**inputs).logits.float().numpy()


@register_backend("onnx")
class OnnxBackend:
    """The ONNX export (fp32 or int8) on onnxruntime's CPU provider; needs no torch."""

    def __init__(self, folder: Path, info: ModelInfo, threads: int | None):
        import onnxruntime as ort

        if not info.onnx_file or not (folder / info.onnx_file).is_file():
            raise ModelFolderError(
                f"{folder} has no ONNX model; make one with `nlpsuite export --model {folder} --out DIR`"
            )
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(folder / info.onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.head, self.temperature = None, info.temperature
        if info.head_file:  # a taught version: the trained head and the taught labels' example bank
            from shared.teaching import TaughtHead

            self.head = TaughtHead.load(folder / info.head_file)

    def __call__(self, batch):
        inputs = {k: batch[k] for k in self.input_names}
        if self.head is None:
            return self.session.run(["logits"], inputs)[0]
        return self.head.logits(self.session.run(None, inputs)[0], self.temperature)
