"""Sentiment with the core's Predictor and topic assignment by keywords, tickers and (optionally)
embedding similarity.

The sentiment model is whatever folder the config names (by default the PhraseBank model that
``nlpsuite run`` fine-tunes and exports to int8 ONNX). Its probabilities are the core's
calibrated ones (temperature scaling), so "negative with 0.9" means about what it says.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from finsentiment.config import FinSentimentConfig, TopicConfig
from shared.model_dir import MANIFEST, ModelFolderError

NEGATIVE = "negative"


class ModelMissingError(ModelFolderError):
    """The configured sentiment model folder is not there; the message says how to make it."""


@dataclass
class Sentiment:
    """One text's sentiment: the top label, its calibrated probability and all of them; ``p_negative`` is
    stored with every score and ranks an alert's headlines."""

    label: str
    confidence: float
    probabilities: dict[str, float]

    @property
    def p_negative(self) -> float:
        return self.probabilities.get(NEGATIVE, 0.0)


class SentimentModel:
    """The deployed sentiment classifier, with a version string stored beside every score."""

    def __init__(self, model_dir: str | Path, backend: str = "auto", threads: Optional[int] = None,
                 batch_size: int = 32):
        from shared.inference import Predictor
        from shared.model_versions import served_folder

        folder = served_folder(model_dir)  # a versions folder (`nlpsuite run`): its current version
        if not (folder / MANIFEST).is_file():
            raise ModelMissingError(
                f"sentiment model {folder} not found: run `nlpsuite run` (it fine-tunes and exports the "
                "PhraseBank model into the versions folder var/models/phrasebank), or make one with `nlpsuite finetune "
                "... --out DIR` and set finsentiment.model_dir")
        self.predictor = Predictor(folder, backend, threads=threads, batch_size=batch_size)
        if NEGATIVE not in self.predictor.labels:
            raise ModelFolderError(f"{folder}: the model's labels {self.predictor.labels} have no '{NEGATIVE}'")
        digest = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()[:12]
        self.version = f"{folder.name}@{digest}"  # the version's id names it when served from versions
        self.labels = list(self.predictor.labels)

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        probs = self.predictor.predict_proba(list(texts))
        out = []
        for row in probs:
            best = int(np.argmax(row))
            out.append(Sentiment(self.labels[best], float(row[best]),
                                 {label: float(p) for label, p in zip(self.labels, row)}))
        return out


@dataclass
class TopicMatch:
    """Why a text belongs to a topic: ``method`` keyword or ticker (score 1.0) or embedding (score: the
    cosine similarity); the monitor stores each one as a TopicAssignment."""

    topic: str
    method: str
    score: float


class TopicMatcher:
    """Keywords match whole words in any case; tickers match exactly (``NOK`` or ``$NOK``), so the
    ticker ``ON`` does not fire on the word "on". With an embedder, a text whose cosine similarity
    to a topic's description reaches ``threshold`` also belongs to it."""

    def __init__(self, topics: Sequence[TopicConfig], embedder=None, threshold: float = 0.5):
        self.topics = list(topics)
        self._keyword = {}
        self._ticker = {}
        for topic in self.topics:
            if topic.keywords:
                words = "|".join(re.escape(k.strip()) for k in topic.keywords if k.strip())
                self._keyword[topic.name] = re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)
            if topic.tickers:
                tickers = "|".join(re.escape(t.strip()) for t in topic.tickers if t.strip())
                self._ticker[topic.name] = re.compile(rf"(?<![\w$])\$?(?:{tickers})(?!\w)")
        self.embedder = embedder
        self.threshold = threshold
        described = [t for t in self.topics if t.description]
        self._described = [t.name for t in described]
        self._topic_vectors = (embedder.encode([t.description for t in described])
                               if embedder is not None and described else None)

    def match(self, texts: Sequence[str]) -> list[list[TopicMatch]]:
        results: list[list[TopicMatch]] = [[] for _ in texts]
        for i, text in enumerate(texts):
            for topic in self.topics:
                if topic.name in self._ticker and self._ticker[topic.name].search(text):
                    results[i].append(TopicMatch(topic.name, "ticker", 1.0))
                elif topic.name in self._keyword and self._keyword[topic.name].search(text):
                    results[i].append(TopicMatch(topic.name, "keyword", 1.0))
        if self._topic_vectors is not None and len(texts):
            similarities = self.embedder.encode(list(texts)) @ self._topic_vectors.T
            for i, row in enumerate(similarities):
                found = {m.topic for m in results[i]}
                for j, name in enumerate(self._described):
                    if name not in found and row[j] >= self.threshold:
                        results[i].append(TopicMatch(name, "embedding", float(row[j])))
        return results


def build_topic_matcher(config: FinSentimentConfig) -> TopicMatcher:
    """The configured topics' matcher; the sentence encoder is loaded only with ``embedding.enabled`` (off by
    default), so keyword and ticker matching need no encoder."""
    embedder = None
    if config.embedding.enabled:
        from shared.embeddings import Embedder

        embedder = Embedder(config.embedding.model, threads=config.threads)
    return TopicMatcher(config.topics, embedder, config.embedding.threshold)
