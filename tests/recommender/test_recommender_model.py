"""The fitted recommender on a catalogue whose right answers are known: one-topic users must
get their topic's items, with reasons from their own history."""
from __future__ import annotations

import json

import numpy as np
import pytest

from recommender.data import Interaction, Item
from recommender.evaluation import evaluate
from recommender.model import MODEL_FILE, FitConfig, Recommender, RecommenderError, fit
from recommender.segments import SEGMENTS, SEGMENTS_FILE
from recommender.store import Store
from shared.atomic import current_version


def in_topic_share(model, catalogue, mode, k=5):
    hits = total = 0
    for user, topic in catalogue.topic_of_user.items():
        result = model.recommend(user, k, mode=mode)
        assert len(result["items"]) == k and not result["cold_start"]
        hits += sum(catalogue.topic_of_item[e["item"]] == topic for e in result["items"])
        total += k
    return hits / total


def test_folder_holds_every_part(fitted):
    meta = json.loads((fitted / MODEL_FILE).read_text())
    assert meta["scorer"] == "scorer" and meta["encoder"] == "encoder"
    assert (fitted / "scorer" / "model_int8.onnx").is_file()
    assert not (fitted / "scorer" / "model.onnx").exists()
    assert (current_version(fitted / "index") / "items.faiss").is_file() and (fitted / "store.sqlite").is_file()
    assert meta["report"]["index"] == "flat" and meta["report"]["scorer_examples"] > 50
    assert set(meta["report"]["segments"]) == set(SEGMENTS) == set(meta["report"]["prefilter"])
    assert meta["segments"] == SEGMENTS_FILE and (fitted / SEGMENTS_FILE).is_file()
    for decision in meta["report"]["prefilter"].values():  # the prefilter ranks without the scorer
        assert "scorer" not in decision["weights"]


def test_one_topic_users_get_their_topic(fitted, catalogue):
    model = Recommender.load(fitted)
    assert model.scorer is not None and model.scorer.predictor.backend_name == "onnx"
    # random picks would land in the user's topic a third of the time
    assert in_topic_share(model, catalogue, "retrieval") >= 0.9
    assert in_topic_share(model, catalogue, "full") >= 0.8


def test_recommendations_are_unseen_and_explained(fitted, catalogue):
    model = Recommender.load(fitted)
    user = "cooking-fan-3"
    seen = {r.item for r in catalogue.interactions if r.user == user}
    result = model.recommend(user, 5)
    assert result["history_size"] == len([r for r in catalogue.interactions if r.user == user])
    items = [e["item"] for e in result["items"]]
    assert len(set(items)) == 5 and not set(items) & seen
    scores = [e["score"] for e in result["items"]]
    assert scores == sorted(scores, reverse=True)
    titles = {i.id: i.title for i in catalogue.items}
    for entry in result["items"]:
        assert entry["because"] in seen
        assert entry["reason"] == f"because you liked {titles[entry['because']]}"


def test_unknown_user_gets_popularity_flagged(fitted, catalogue):
    model = Recommender.load(fitted)
    result = model.recommend("someone-new", 4)
    assert result["cold_start"] is True and result["history_size"] == 0
    counts = {}
    for row in catalogue.interactions:
        counts[row.item] = counts.get(row.item, 0) + 1
    got = [counts[e["item"]] for e in result["items"]]
    assert got == sorted(counts.values(), reverse=True)[:4]
    assert all(e["because"] is None for e in result["items"])


@pytest.mark.parametrize("k", [0, -1, 101, "10"])
def test_k_out_of_range_is_refused(fitted, k):
    with pytest.raises(RecommenderError, match="k must be"):
        Recommender.load(fitted).recommend("space-fan-0", k)


def test_interaction_updates_profile_at_once_and_persists(model_copy, catalogue):
    model = Recommender.load(model_copy)
    user = "switcher"
    football = [i.id for i in catalogue.items if catalogue.topic_of_item[i.id] == "football"]
    assert model.recommend(user, 3)["cold_start"]
    for n, item in enumerate(football[:4]):
        model.add_interaction(Interaction(user, item, "purchase", 1_800_000_000 + n))
    result = model.recommend(user, 3, mode="retrieval")
    assert not result["cold_start"]
    assert all(catalogue.topic_of_item[e["item"]] == "football" for e in result["items"])
    assert all(e["item"] not in football[:4] for e in result["items"])
    reloaded = Recommender.load(model_copy)
    assert len(reloaded.histories[user]) == 4


def test_unknown_item_interaction_writes_nothing(model_copy):
    model = Recommender.load(model_copy)
    before = Store(model_copy / "store.sqlite").count_interactions()
    from recommender.store import UnknownItemError

    with pytest.raises(UnknownItemError, match="unknown item 'nope'"):  # its own type, to the web layer's 404
        model.add_interaction(Interaction("space-fan-0", "nope", "click", 1_800_000_000))
    with pytest.raises(RecommenderError, match="unknown event type"):
        model.add_interaction(Interaction("space-fan-0", "sp01", "teleport", 1_800_000_000))
    assert Store(model_copy / "store.sqlite").count_interactions() == before
    assert len(model.histories["space-fan-0"]) == 7


def test_items_added_and_removed_without_refit(model_copy, catalogue):
    model = Recommender.load(model_copy)
    index_object = model.index.index
    new = Item("sp99", "rocket galaxy orbit special", "planet and comet notes", ("space",))
    model.add_items([new])
    assert "sp99" in model.index and model.index.index is index_object
    model.remove_items(["sp00", "sp01"])
    reloaded = Recommender.load(model_copy)
    assert "sp99" in reloaded.items and "sp00" not in reloaded.items and "sp00" not in reloaded.index
    for user in [u for u, t in catalogue.topic_of_user.items() if t == "space"]:
        items = [e["item"] for e in reloaded.recommend(user, 10)["items"]]
        assert "sp00" not in items and "sp01" not in items
    ranked_for_new = {e["item"] for u in ("space-fan-0", "space-fan-1", "space-fan-2")
                      for e in reloaded.recommend(u, 5, mode="retrieval")["items"]}
    assert "sp99" in ranked_for_new


def test_evaluate_reports_the_four_metrics(fitted, catalogue):
    model = Recommender.load(fitted)
    # ground truth: every unseen item of the user's topic
    test = [Interaction(u, i.id, "view", 0) for u, t in catalogue.topic_of_user.items()
            for i in catalogue.items if catalogue.topic_of_item[i.id] == t and i.id not in
            {r.item for r in model.histories[u]}]
    metrics = {mode: evaluate(model, test, k=5, mode=mode) for mode in ("popularity", "retrieval", "full")}
    assert metrics["retrieval"]["precision_at_5"] >= 0.9
    assert metrics["retrieval"]["ndcg_at_5"] > metrics["popularity"]["ndcg_at_5"]
    assert metrics["full"]["ndcg_at_5"] > metrics["popularity"]["ndcg_at_5"]


def test_fit_refuses_to_overwrite_and_unknown_items(tmp_path, catalogue, fitted):
    with pytest.raises(FileExistsError):
        fit(catalogue.items, catalogue.interactions, fitted, FitConfig())
    with pytest.raises(RecommenderError, match="not in the catalogue"):
        fit(catalogue.items[:3], catalogue.interactions, tmp_path / "m", FitConfig())


def test_fit_force_keeps_the_interaction_log_and_switches_in_a_complete_folder(model_copy, catalogue, tiny_encoder):
    from recommender.data import Interaction
    from rec_testlib import tiny_fit_config

    store = Store(model_copy / "store.sqlite")
    live = Interaction("live-user", catalogue.items[0].id, "view", 1_900_000_000.0)
    store.add_interactions([live])
    before = store.count_interactions()
    store.close()
    fit(catalogue.items, catalogue.interactions, model_copy, tiny_fit_config(tiny_encoder), overwrite=True)
    kept = Store(model_copy / "store.sqlite")
    assert kept.count_interactions() == before and live in kept.interactions("live-user")
    assert "live-user" in Recommender.load(model_copy).histories  # trained on, not only copied
    assert not list(model_copy.parent.glob(".model-fit-*")) and not model_copy.with_name("model.old").exists()


def test_truncated_scorer_base(tmp_path, tiny_encoder):
    from transformers import AutoModel

    from recommender.scorer import truncated_encoder

    out = truncated_encoder(tiny_encoder, 1, tmp_path / "one")
    assert AutoModel.from_pretrained(out).config.num_hidden_layers == 1
    assert (out / "tokenizer.json").is_file()
    with pytest.raises(ValueError, match="from 1 to 2"):
        truncated_encoder(tiny_encoder, 3, tmp_path / "three")


def test_blend_weights_follow_the_signal():
    import numpy as np

    from recommender.ranking import FEATURES, fit_blend

    rng = np.random.default_rng(0)
    features = rng.random((400, len(FEATURES)))
    labels = (features[:, 2] + 0.1 * rng.random(400) > 0.8).astype(int)  # only popularity matters
    blend = fit_blend(features, labels)
    assert blend.weights["popularity"] > 3 * max(abs(blend.weights[n]) for n in FEATURES if n != "popularity")
    ranked = np.argsort(-blend.score(features))[:20]
    assert labels[ranked].mean() > 0.9
    partial = fit_blend(features[:, 1:], labels, names=FEATURES[1:])
    assert partial.weights["scorer"] == 0.0 and partial.weights["popularity"] > 0
    with pytest.raises(ValueError, match="feature columns"):
        fit_blend(features, labels, names=FEATURES[1:])


def test_cooccurrence_is_jaccard_weighted_by_the_profile_and_updates_at_once():
    from recommender.cooccurrence import CoOccurrence
    from recommender.data import Interaction

    def rows(user, items):
        return [Interaction(user, i, "view", 0.0) for i in items]

    histories = {"u1": rows("u1", "ab"), "u2": rows("u2", "abc"), "u3": rows("u3", "cd")}
    table = CoOccurrence.from_histories("abcde", histories, ease_max_items=0)  # a "large" catalogue
    assert table.method == "jaccard" and table.ease is None
    scores = dict(zip(table.ids, table.scores({"a": 1.0})))
    # a and b: the same two users (1.0); a and c: one shared user of three (1/3); a and d: none
    assert scores == pytest.approx({"a": 0.0, "b": 1.0, "c": 1 / 3, "d": 0.0, "e": 0.0})
    both = dict(zip(table.ids, table.scores({"a": 1.0, "d": 3.0})))
    assert both["c"] == pytest.approx((1.0 * 1 / 3 + 3.0 * 1 / 2) / 4)  # weighted by the profile
    table.add("u3", "a")  # a new interaction counts at once, before any compaction
    after = dict(zip(table.ids, table.scores({"a": 1.0})))
    assert after["d"] == pytest.approx(1 / 3) and after["b"] == pytest.approx(2 / 3)
    table.add("u3", "a")  # the same user and item again changes nothing
    table.compact()
    assert dict(zip(table.ids, table.scores({"a": 1.0}))) == pytest.approx(after)
    table.add_item("f")
    table.add("u1", "f")
    final = table.scores({"a": 1.0})
    assert dict(zip(table.ids, final))["f"] == pytest.approx(1 / 3)  # a new item: one shared user of three
    assert table.top(final, 2, exclude={"b"}) == [("c", pytest.approx(2 / 3)), ("d", pytest.approx(1 / 3))]
    assert [item for item, _ in table.top(final, 10)] == ["b", "c", "d", "f"]  # nothing scoring 0


def test_small_catalogues_use_ease_item_weights():
    import numpy as np

    from recommender.cooccurrence import CoOccurrence
    from recommender.data import Interaction

    histories = {u: [Interaction(u, i, "view", 0.0) for i in items]
                 for u, items in {"u1": "ab", "u2": "abc", "u3": "cd", "u4": "ab"}.items()}
    table = CoOccurrence.from_histories("abcde", histories, ease_lambda=0.5)
    assert table.method == "ease"
    x = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 0, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=float)
    p = np.linalg.inv(x.T @ x + 0.5 * np.eye(5))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0)
    expected = b[[0]].sum(axis=0)  # a user who has a
    expected[0] = 0
    assert table.scores({"a": 1.0}) == pytest.approx(expected, abs=1e-4)
    ranked = [item for item, _ in table.top(table.scores({"a": 1.0}), 5)]
    assert ranked[0] == "b" and "e" not in ranked  # b always comes with a; nobody has e
    assert table.scores({"a": 1.0, "c": 1.0})[[0, 2]].tolist() == [0.0, 0.0]  # never the history itself


@pytest.mark.parametrize("mode", ["full", "cooccurrence", "retrieval"])
def test_each_reason_names_the_history_item_whose_removal_costs_the_pick_most(fitted, catalogue, mode):
    """Faithful reasons: take each history item out of the user's history (the fitted model
    unchanged) and score the picks again with the model's own parts; the item the reason names
    is the one whose removal lowers the pick's score most (or none does and it names none)."""
    model = Recommender.load(fitted, cache_ttl_s=0)
    user = "cooking-fan-3"
    history = model.histories[user]
    picks = model.recommend(user, 5, mode=mode)["items"]
    items = [e["item"] for e in picks]
    liked = list(dict.fromkeys(r.item for r in history))
    assert len(liked) >= 3
    base = _scores_of(model, model.pool.profile_of(history), items, mode)
    assert np.allclose(base, [e["score"] for e in picks], atol=1e-5)  # the parts reproduce the ranking
    lowered = {item: {} for item in items}
    for item in liked:
        scores = _scores_of(model, model.pool.profile_of([r for r in history if r.item != item]), items, mode)
        for pick, before, after in zip(items, base, scores):
            lowered[pick][item] = before - after
    named = 0
    for entry in picks:
        drops = lowered[entry["item"]]
        best = max(drops, key=drops.get)
        if drops[best] > 1e-9:  # the explainer's LIFT_TOLERANCE
            assert drops[entry["because"]] >= drops[best] - 1e-4, (entry, drops)
            named += 1
        else:
            assert entry["because"] is None
    assert named >= 3  # the history does lift most picks of a one-topic user


def _scores_of(model, user_profile, items, mode):
    """The scores ``items`` get from the model's own parts for this profile (what ranking computes)."""
    from recommender.candidates import Candidate

    similarity = model.index.vectors(items) @ user_profile.profile
    if mode == "retrieval":
        return similarity
    co = model.cooccurrence.scores(user_profile.weights)
    cooccurrence = np.array([model.cooccurrence.score_of(co, item) for item in items])
    if mode == "cooccurrence":
        return cooccurrence
    found = [Candidate(i, float(s), "index", float(c)) for i, s, c in zip(items, similarity, cooccurrence)]
    segments = model.segments_of(user_profile.weights, found)
    features = model.features(user_profile.weights, found, scorer=[model.blend.uses("scorer", s) for s in segments])
    return model.blend.score(features, segments)


def test_a_longer_answer_from_the_cache_gets_every_reason(fitted):
    """Reasons are written for the k asked; a later, longer request on the cached answer adds
    the missing ones, the same as a fresh answer of that length."""
    model = Recommender.load(fitted)
    short = model.recommend("cooking-fan-3", 3)
    assert model.cached_answer("cooking-fan-3", 8) is None  # reasons 4-8 missing: not from the event loop
    longer = model.recommend("cooking-fan-3", 8)
    fresh = Recommender.load(fitted, cache_ttl_s=0).recommend("cooking-fan-3", 8)
    assert longer["cached"] is True and longer["items"][:3] == short["items"]
    assert [(e["item"], e["reason"], e["because"]) for e in longer["items"]] == \
        [(e["item"], e["reason"], e["because"]) for e in fresh["items"]]
    assert all(e["reason"] for e in longer["items"]) and "_ranking" not in longer
    assert model.cached_answer("cooking-fan-3", 8)["items"] == longer["items"]


def test_a_folder_missing_a_fitted_part_is_refused_by_name(model_copy):
    """A missing blend, index or scorer is an incomplete folder (503 on the web, one CLI line),
    not a FileNotFoundError traceback from deep inside the load."""
    from shared.model_dir import ModelFolderError

    (model_copy / SEGMENTS_FILE).unlink()
    with pytest.raises(ModelFolderError, match=f"{SEGMENTS_FILE} is missing"):
        Recommender.load(model_copy)
