"""Sentence embeddings from a registered encoder (a sentence-transformers bi-encoder).

The chatbot's FAQ retrieval, the monitor's topic similarity and the recommender's item
vectors all embed texts the same way: unit-length vectors, so inner product is cosine
similarity and FAISS's IndexFlatIP/HNSW inner-product indexes apply directly.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.models.registry import resolve_model


class Embedder:
    """Wraps ``sentence_transformers.SentenceTransformer`` loaded offline through the registry."""

    def __init__(self, model: str | Path = "minilm-l6", *, threads: int | None = None,
                 device: str = "cpu", max_length: int | None = None):
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.path = resolve_model(model)
        self.model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
        if max_length:
            self.model.max_seq_length = max_length

    @property
    def dimension(self) -> int:
        """Length of each vector: what a FAISS index built on them must be created with."""
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """float32 array of shape (len(texts), dimension), each row of unit length."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single text")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, show_progress_bar=progress,
            convert_to_numpy=True, normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
