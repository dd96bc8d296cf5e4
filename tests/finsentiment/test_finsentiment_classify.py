"""Sentiment with the tiny fine-tuned model, and topic assignment by keywords and tickers."""
from __future__ import annotations

import random

import numpy as np
import pytest

from finsentiment.classify import ModelMissingError, SentimentModel, TopicMatcher
from finsentiment.config import TopicConfig

from fin_testlib import PHRASES, headline


def test_tiny_model_separates_the_three_labels(loaded_sentiment):
    rng = random.Random(99)  # other company/tail combinations than the training rows
    texts, labels = [], []
    for label in PHRASES:
        for company in ("Kone", "Orion", "Acme"):
            texts.append(headline(label, company, rng))
            labels.append(label)
    results = loaded_sentiment.classify(texts)
    accuracy = np.mean([r.label == l for r, l in zip(results, labels)])
    assert accuracy >= 0.8, [(t, r.label) for t, r in zip(texts, results)]
    for r in results:
        assert set(r.probabilities) == {"negative", "neutral", "positive"}
        assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert r.confidence == max(r.probabilities.values())
    assert loaded_sentiment.version.startswith("sentiment@")


def test_missing_model_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelMissingError, match="nlpsuite run"):
        SentimentModel(tmp_path / "nope")


def test_keywords_are_whole_words_any_case_and_tickers_exact():
    matcher = TopicMatcher([
        TopicConfig(name="Nokia", keywords=["Nokia"], tickers=["NOK"]),
        TopicConfig(name="Banks", keywords=["bank", "Nordea"]),
        TopicConfig(name="On Semi", tickers=["ON"]),
    ])
    found = matcher.match([
        "NOKIA shares fall",            # keyword, any case
        "$NOK down 5%",                 # ticker with $
        "Banking on nothing",           # 'bank' is not a whole word in 'Banking'; 'on' is not the ticker
        "Nordea and the central bank",  # two keywords, one topic
        "ON rallies",                   # exact-case ticker
        "Nokian Tyres reports",         # not Nokia
    ])
    names = [[m.topic for m in row] for row in found]
    assert names == [["Nokia"], ["Nokia"], [], ["Banks"], ["On Semi"], []]
    assert found[1][0].method == "ticker" and found[0][0].method == "keyword"


class FakeEmbedder:
    """Vectors from word overlap with a fixed vocabulary: enough to test the similarity path."""

    vocab = ["phone", "network", "loan", "bank", "steel"]

    def encode(self, texts):
        rows = np.array([[float(w in t.lower()) for w in self.vocab] for t in texts], dtype=np.float32) + 1e-6
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_embedding_similarity_adds_topics_that_keywords_miss():
    matcher = TopicMatcher([TopicConfig(name="Telecom", keywords=["Ericsson"], description="phone network"),
                            TopicConfig(name="Banks", keywords=["Nordea"], description="bank loan")],
                           embedder=FakeEmbedder(), threshold=0.6)
    found = matcher.match(["New phone network launched", "Ericsson phone sales", "steel prices"])
    assert [(m.topic, m.method) for m in found[0]] == [("Telecom", "embedding")]
    assert [(m.topic, m.method) for m in found[1]] == [("Telecom", "keyword")]
    assert found[2] == []
