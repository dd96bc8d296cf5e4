"""Serving beyond one request: new items found by their text, the segment decision read back from
the folder, the per-user answer cache, several workers on one folder, and micro-batching that
ranks exactly as one request at a time."""
from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from recommender.data import Interaction, Item
from recommender.model import MODEL_FILE, Recommender
from recommender.ranking import Blend
from recommender.segments import SEGMENTS, SEGMENTS_FILE, SegmentedBlend

from rec_testlib import TOPICS


def _copied(blend: SegmentedBlend) -> SegmentedBlend:
    """A segmented blend whose segments own their weights (a borrowed one is shared)."""
    return SegmentedBlend({name: Blend(dict(blend.blend(name).weights), blend.blend(name).bias)
                           for name in SEGMENTS})


def _new_items() -> list[Item]:
    """Two unrated items per topic, written in the topic's words."""
    out = []
    for topic, words in TOPICS.items():
        for n in range(2):
            out.append(Item(f"new-{topic}-{n}", f"{words[n]} {words[n + 2]} special",
                            f"{words[n + 4]} and {words[n + 5]} edition", (topic,)))
    return out


@pytest.fixture
def with_new_items(model_copy):
    model = Recommender.load(model_copy)
    model.add_items(_new_items())
    return model


def test_new_items_are_recommended_by_their_text(with_new_items, catalogue):
    model = with_new_items
    new = {item.id for item in _new_items()}
    assert set(model.new_items()[0]) >= new
    in_topic = total = 0
    for user, topic in catalogue.topic_of_user.items():
        result = model.recommend(user, 2, scope="new")
        assert {e["item"] for e in result["items"]} <= set(model.new_items()[0])
        for entry in result["items"]:
            liked = model.items[entry["because"]].title
            assert entry["reason"] == f"new: similar to {liked}, which you liked"
            in_topic += entry["item"].startswith(f"new-{topic}-")
            total += 1
    assert in_topic / total >= 0.8  # a random pick of the six is in the user's topic a third of the time
    # in the ordinary list the new items are candidates beside the warm ones (only text finds them)
    user = next(iter(catalogue.topic_of_user))
    pool = {c.item for c in model.candidates(user).candidates}
    assert new <= pool
    model.config.pool = 8  # a small pool: FAISS's top 8 cannot hold them all, the new-item slice still adds some
    model.config.new_share = 0.5
    small = model.candidates(user).candidates
    assert any(c.source == "new" and c.item in new for c in small)


def test_an_interaction_makes_a_new_item_warm(with_new_items, catalogue):
    model = with_new_items
    user = next(iter(catalogue.topic_of_user))
    model.add_interaction(Interaction(user, "new-space-0", "purchase", 1_800_000_000))
    assert "new-space-0" not in model.new_items()[0]
    assert model.segment(10, "new-space-0") == "warm"
    assert model.segment(10, "new-space-1") == "cold_item"


def test_segment_decision_is_read_back_from_the_folder(fitted):
    meta = json.loads((fitted / MODEL_FILE).read_text())
    saved = json.loads((fitted / SEGMENTS_FILE).read_text())
    model = Recommender.load(fitted)
    assert set(model.blend.blends) == set(SEGMENTS) == set(saved["segments"])
    for name in SEGMENTS:
        blend = model.blend.blend(name)
        assert blend.weights == saved["segments"][name]["blend"]["weights"]
        assert model.blend.decisions[name] == saved["segments"][name]["decision"]
        report = meta["report"]["segments"][name]
        assert {f for f, w in report["weights"].items() if w} == {f for f, w in blend.weights.items() if w}
        # a feature the decision dropped weighs nothing in serving
        for dropped in report.get("dropped", []):
            assert not model.blend.uses(dropped["feature"], name)


def test_the_scorer_runs_only_for_segments_that_keep_it(model_copy, catalogue):
    model = Recommender.load(model_copy, cache_ttl_s=0)
    calls = []
    original = model.scorer.predictor.predict_proba
    model.scorer.predictor.predict_proba = lambda pairs: calls.append(len(pairs)) or original(pairs)
    user = next(u for u in catalogue.topic_of_user if len(model.histories[u]) > 3)

    model.blend = _copied(model.blend)
    for name in SEGMENTS:
        model.blend.blend(name).weights["scorer"] = 0.0  # as if every decision had dropped it
    model.recommend(user, 3)
    assert calls == []  # no segment keeps the scorer: no scorer pass at all
    model.blend.blend("warm").weights["scorer"] = 1.0
    model.recommend(user, 3)
    assert calls and calls[0] > 0


def test_answers_are_cached_until_the_users_next_interaction(model_copy, catalogue):
    model = Recommender.load(model_copy)
    user = next(iter(catalogue.topic_of_user))
    first = model.recommend(user, 3)
    again = model.recommend(user, 3)
    assert first["cached"] is False and again["cached"] is True and again["items"] == first["items"]
    shorter = model.recommend(user, 2)  # a shorter list from the same cached ranking
    assert shorter["cached"] is True and shorter["items"] == first["items"][:2]
    top = first["items"][0]["item"]
    model.add_interaction(Interaction(user, top, "purchase", 1_800_000_000))
    after = model.recommend(user, 3)
    assert after["cached"] is False and after["history_size"] == first["history_size"] + 1
    assert top not in {e["item"] for e in after["items"]}  # seen now: never recommended again
    other = next(u for u in catalogue.topic_of_user if u != user)
    model.recommend(other, 3)
    assert model.recommend(other, 3)["cached"] is True  # other users' answers stay cached


def test_a_second_worker_reads_the_first_workers_interactions(model_copy, catalogue):
    """Two processes' worth of state on one folder: what one stores, the other applies before
    its next answer (and drops that user's cached answer)."""
    first, second = Recommender.load(model_copy), Recommender.load(model_copy)
    user = next(iter(catalogue.topic_of_user))
    before = second.recommend(user, 3)
    assert second.recommend(user, 3)["cached"] is True
    item = before["items"][0]["item"]
    first.add_interaction(Interaction(user, item, "purchase", 1_800_000_000))
    after = second.recommend(user, 3)
    assert after["cached"] is False and after["history_size"] == before["history_size"] + 1
    assert item not in {e["item"] for e in after["items"]}
    assert second.refresh() == 0  # applied once, not again
    assert len(second.histories[user]) == len(first.histories[user])


def test_batched_search_and_scoring_match_one_at_a_time(fitted, catalogue):
    model = Recommender.load(fitted, cache_ttl_s=0)
    users = sorted(catalogue.topic_of_user)
    requests = []
    for user in users:
        weights, _, profile = model.pool.profile_of(model.histories[user])
        requests.append((profile, 8, frozenset(row.item for row in model.histories[user])))
    batched = model.pool._search_batch(requests)
    for (profile, n, seen), got in zip(requests, batched):
        alone = model.index.search(profile, n, exclude=seen)[0]
        assert [i for i, _ in got] == [i for i, _ in alone]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in alone], rtol=1e-5)
    texts = [item.text for item in catalogue.items]
    scoring = [(texts[n], texts[n + 1: n + 6]) for n in range(0, 30, 5)]
    together = model.scoring._score_batch(scoring)
    for (context, candidates), got in zip(scoring, together):
        assert np.array_equal(got, model.scorer.score(context, candidates))  # each request its own ONNX batch


def test_concurrent_requests_rank_as_sequential_ones(fitted, catalogue):
    sequential_model = Recommender.load(fitted, cache_ttl_s=0)
    users = sorted(catalogue.topic_of_user) * 3
    random.Random(1).shuffle(users)
    model = Recommender.load(fitted, cache_ttl_s=0)
    model.config.batch_index_search = True  # off by default; this test is about it
    model.blend = _copied(model.blend)
    for name in SEGMENTS:  # every request goes through the scorer batcher
        model.blend.blend(name).weights["scorer"] = 1.0
    sequential_model.blend = model.blend
    expected = {u: sequential_model.recommend(u, 5)["items"] for u in set(users)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda u: (u, model.recommend(u, 5)["items"]), users))
    for user, items in answers:
        assert [e["item"] for e in items] == [e["item"] for e in expected[user]]
        np.testing.assert_allclose([e["score"] for e in items], [e["score"] for e in expected[user]], atol=1e-4)
    assert model.scoring.scorer_batcher.requests == len(users)
    assert model.pool.index_batcher.batches < model.pool.index_batcher.requests  # some requests shared a search


@pytest.mark.timeout(300)
def test_fit_with_the_spark_engine_indexes_the_same_vectors(tmp_path, fitted, catalogue, tiny_encoder):
    """`recommender fit --engine spark`: the catalogue embedded by the batch job on local[2];
    the index holds the vectors the in-process encoder gives."""
    pytest.importorskip("pyspark")
    from recommender.embed import ItemEncoder
    from recommender.model import fit

    from rec_testlib import tiny_fit_config

    out = fit(catalogue.items, catalogue.interactions, tmp_path / "spark-model",
              tiny_fit_config(tiny_encoder, engine="spark", spark_master="local[2]", finetune_encoder=False,
                              scorer=False))
    meta = json.loads((out / MODEL_FILE).read_text())
    assert meta["report"]["embedding"]["engine"] == "spark-local"
    assert meta["report"]["embedding"]["rows_in"] == len(catalogue.items)
    model = Recommender.load(out)
    ids = [item.id for item in catalogue.items]
    expected = ItemEncoder(tiny_encoder, threads=1, max_length=48).encode_items(catalogue.items)
    np.testing.assert_allclose(model.index.vectors(ids), expected, atol=1e-5)
    assert not list(tmp_path.glob(".spark-model-*"))  # the work folder is gone
