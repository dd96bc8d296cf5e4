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


def test_embedding_topics_through_a_real_sentence_transformer(sentiment_model, make_config):
    """The config switch builds the core Embedder (here over the tiny BERT the sentiment model was
    fine-tuned from, with mean pooling, saved as a sentence-transformers folder): a headline identical to a description
    has cosine similarity 1 and is assigned by embedding; keywords still win first."""
    from sentence_transformers import SentenceTransformer, models

    from finsentiment.classify import build_topic_matcher
    from shared.model_dir import ModelInfo

    folder = sentiment_model.parent / "tiny-st"
    if not (folder / "modules.json").is_file():
        word = models.Transformer(ModelInfo.load(sentiment_model).base_model, max_seq_length=32)
        SentenceTransformer(modules=[word, models.Pooling(word.get_word_embedding_dimension())],
                            device="cpu").save(str(folder))
    description = "Kone wins large contract in Finland"
    config = make_config(topics=[{"name": "Elevators", "keywords": ["lift"], "description": description},
                                 {"name": "Nokia", "keywords": ["Nokia"]}],
                         embedding={"enabled": True, "model": str(folder), "threshold": 0.999})
    matcher = build_topic_matcher(config)
    found = matcher.match([description, "Nokia names new auditor", "the lift is broken"])
    assert [(m.topic, m.method) for m in found[0]] == [("Elevators", "embedding")]
    assert found[0][0].score > 0.999
    assert [(m.topic, m.method) for m in found[1]] == [("Nokia", "keyword")]
    assert [(m.topic, m.method) for m in found[2]] == [("Elevators", "keyword")]


def test_the_monitor_scores_with_a_new_version_from_its_next_cycle_without_a_restart(tmp_path, sentiment_model,
                                                                                      make_config):
    """A versions folder as model_dir: switching its pointer while the monitor runs makes the
    following cycles score with the new version, and each score names the version it came from."""
    import shutil

    from fin_testlib import entries_for, rss
    from sqlalchemy import select

    from finsentiment.fetching import MemoryFetcher
    from finsentiment.monitor import Monitor
    from finsentiment.notify import MemoryNotifier
    from finsentiment.store import Score
    from shared.model_versions import ModelVersions, VersionInfo

    versions = ModelVersions(tmp_path / "phrasebank")
    made = []
    for name in ("first", "second"):
        staged = versions.stage()
        shutil.copytree(sentiment_model, staged, dirs_exist_ok=True)
        made.append(versions.commit(staged, VersionInfo(recipe=name)))
    versions.switch(made[0].id)
    fetcher = MemoryFetcher({"mem://wire": rss(entries_for("negative", 3, "Nokia", "a"))})
    monitor = Monitor(make_config(feeds=[{"name": "wire", "url": "mem://wire"}], model_dir=str(versions.root)),
                      fetcher=fetcher, notifier=MemoryNotifier())
    assert monitor.poll_once().scored == 3
    versions.switch(made[1].id)
    monitor._live.check_now()  # as the next cycle's first score would, a second later
    assert monitor._live.swapped.wait(30)
    fetcher.feeds["mem://wire"] = rss(entries_for("negative", 3, "Nokia", "a") + entries_for("neutral", 2, "Kone", "b"))
    assert monitor.poll_once().scored == 2
    with monitor.store.session() as session:
        used = [row.model_version for row in session.execute(select(Score).order_by(Score.article_id)).scalars()]
    assert [v.split("@")[0] for v in used] == [made[0].id] * 3 + [made[1].id] * 2
