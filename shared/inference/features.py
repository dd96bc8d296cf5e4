"""Sentence features from a feature graph (``shared.export.features``) on onnxruntime, no torch.

The probe recipe embeds its training texts with this, and so does every later head refit (a
new intent taught to the running bot): the features are the served graph's own, so a head
fitted on them serves unchanged. Texts are sorted by length into batches (little padding) and
returned in input order.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from shared.inference.predictor import encode_batch, load_tokenizer
from shared.model_dir import ModelFolderError

FEATURES_MANIFEST = "features.json"  # the same name as shared.export.features (which imports torch)


class FeatureEncoder:
    """Texts in, one float32 feature row each (unit length when the graph normalises).

    ``precision``: ``"int8"`` (the quantized graph the int8 classifier serves) or ``"fp32"``.
    """

    def __init__(self, folder: str | Path, *, precision: str = "int8", threads: int | None = None,
                 max_length: int = 64, batch_size: int = 64):
        import onnxruntime as ort

        self.folder = Path(folder)
        manifest = self.folder / FEATURES_MANIFEST
        if not manifest.is_file():
            raise ModelFolderError(f"{self.folder} holds no feature graph ({FEATURES_MANIFEST} is missing)")
        self.manifest = json.loads(manifest.read_text(encoding="utf-8"))
        graph = self.manifest["files"].get(precision)
        if precision not in ("int8", "fp32") or not graph:
            raise ModelFolderError(f"{self.folder} has no {precision} feature graph")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.folder / graph), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.tokenizer = load_tokenizer(self.folder, max_length)
        self.batch_size = batch_size
        self.dimension = int(self.manifest["dimension"])

    def encode(self, texts: Sequence[str], *, progress: bool = False, description: str = "features") -> np.ndarray:
        """Features of ``texts`` in their order, shape (len(texts), dimension)."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        starts = range(0, len(order), self.batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=description, unit="batch", leave=False)
        for start in starts:
            idx = order[start:start + self.batch_size]
            batch = encode_batch(self.tokenizer, [texts[i] for i in idx])
            out[idx] = self.session.run(None, {k: batch[k] for k in self.input_names})[0]
        return out
