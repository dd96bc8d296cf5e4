"""Teaching the served intent model new intents (chatbot.teach over shared.teaching), the
decline data's halves, and the component that reads a bare slot value as an answer.

The teach tests run on the intent model a first `nlpsuite run` serves (the real MiniLM probe,
trained once per machine), copied per test: a versions folder they may change."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from shared.data import DataError

REPO = Path(__file__).resolve().parents[2]
NEW = yaml.safe_load((REPO / "data/chatbot/new_intents.yml").read_text())["intents"]


@pytest.fixture
def served(quick_intents, tmp_path):
    """A private copy of the served versions folder and an empty taught store."""
    from chatbot.teach import TaughtStore

    root = Path(shutil.copytree(quick_intents, tmp_path / "intents"))
    return root, TaughtStore(tmp_path / "taught.json")


@pytest.fixture(scope="module")
def training():
    from chatbot.intents import load_intent_data

    return load_intent_data()["train"]


def _predict(root, texts):
    from shared.inference import Predictor

    return [p.label for p in Predictor(root, "onnx", threads=1).predict(texts, top_k=1)]


@pytest.mark.slow
def test_taught_intents_are_predicted_and_removed_and_the_old_ones_stay(served, training):
    from chatbot.banking77 import load_banking77
    from chatbot.teach import remove_intent, teach_intent
    from shared.model_versions import ModelVersions

    root, store = served
    versions = ModelVersions(root)
    before_version = versions.current().id
    sample = load_banking77()["test"]
    texts, gold = sample.texts[::10], sample.labels[::10]
    before = sum(p == y for p, y in zip(_predict(root, texts), gold)) / len(gold)
    for name in ("gift_cards", "refer_a_friend"):
        report = teach_intent(store, root, name, NEW[name]["examples"], NEW[name]["answer"], training=training,
                              threads=2)
        assert report["version"] == versions.current().id != before_version
    probes = {name: _predict(root, NEW[name]["probes"]) for name in ("gift_cards", "refer_a_friend")}
    assert sum(found.count(name) for name, found in probes.items()) >= 4, probes  # phrasings it was not taught
    for name in probes:
        assert _predict(root, NEW[name]["examples"]).count(name) >= 9, name
    after = sum(p == y for p, y in zip(_predict(root, texts), gold)) / len(gold)
    assert after >= before - 0.01, (before, after)
    assert set(store.load()) == {"gift_cards", "refer_a_friend"}

    remove_intent(store, root, "gift_cards")
    assert "gift_cards" not in _predict(root, NEW["gift_cards"]["probes"] + NEW["gift_cards"]["examples"])
    assert set(store.load()) == {"refer_a_friend"}
    assert "refer_a_friend" in _predict(root, NEW["refer_a_friend"]["probes"])


@pytest.mark.slow  # the served model is the real MiniLM probe
@pytest.mark.parametrize("name, examples, answer, message", [
    ("gift_cards", NEW["gift_cards"]["examples"][:4], "an answer", "at least 5"),
    ("Gift Cards", NEW["gift_cards"]["examples"], "an answer", "lowercase"),
    ("card_arrival", NEW["gift_cards"]["examples"], "an answer", "exists already"),
    ("gift_cards", NEW["gift_cards"]["examples"], "   ", "answer is empty"),
])
def test_a_bad_teach_request_is_refused_and_changes_nothing(served, name, examples, answer, message):
    from chatbot.teach import teach_intent
    from shared.model_versions import ModelVersions

    root, store = served
    versions = ModelVersions(root)
    before = (versions.current().id, [v.id for v in versions.all()])
    with pytest.raises(DataError, match=message):
        teach_intent(store, root, name, examples, answer)
    assert (versions.current().id, [v.id for v in versions.all()]) == before
    assert not store.path.exists()


def test_an_examples_file_with_undecodable_bytes_names_the_line(tmp_path):
    from chatbot.teach import read_examples

    path = tmp_path / "examples.txt"
    path.write_bytes(b"can I buy a gift card\n\ngift card please\n\xff\xfe broken\n")
    with pytest.raises(DataError, match=r"examples.txt:4: not UTF-8") as caught:
        read_examples(path)
    assert str(path) in str(caught.value)
    path.write_bytes(b"one\n\n one \ntwo\n")
    assert read_examples(path) == ["one", "two"]  # blank lines and repeats dropped


@pytest.mark.slow
def test_a_taught_version_serves_on_onnx_only_and_keeps_its_parent_s_files(served, training):
    from chatbot.teach import teach_intent
    from shared.inference import Predictor
    from shared.model_dir import ModelFolderError, ModelInfo
    from shared.model_versions import ModelVersions

    root, store = served
    parent = ModelVersions(root).current()
    teach_intent(store, root, "savings_pots", NEW["savings_pots"]["examples"], NEW["savings_pots"]["answer"],
                 training=training)
    taught = ModelVersions(root).current()
    info = ModelInfo.load(taught.folder)
    assert info.labels[-1] == "savings_pots" and info.head_file == "head.npz"
    assert info.hyperparameters["taught"] == {"savings_pots": 10} and info.hyperparameters["taught_from"] == parent.id
    assert (taught.folder / "tokenizer.json").stat().st_ino == (parent.folder / "tokenizer.json").stat().st_ino
    with pytest.raises(ModelFolderError, match="backend='onnx'"):
        Predictor(taught.folder, "torch")
    spelling = json.loads((taught.folder / "spelling.json").read_text())["words"]
    assert "pots" in spelling or "pot" in spelling  # taught words are not "corrected" away


@pytest.mark.slow
def test_a_version_trained_while_an_intent_was_taught_keeps_it(served, training, monkeypatch, tmp_path):
    """The background upgrade's carry_over: a newly trained version without a taught intent gets it."""
    from chatbot.intents import keep_taught
    from chatbot.teach import teach_intent
    from shared.model_dir import ModelInfo
    from shared.model_versions import ModelVersions

    root, store = served
    versions = ModelVersions(root)
    untaught = versions.current()  # stands for the version the upgrade trained meanwhile
    teach_intent(store, root, "salary_advance", NEW["salary_advance"]["examples"], NEW["salary_advance"]["answer"],
                 training=training)
    config = tmp_path / "nlpsuite.yml"
    config.write_text(yaml.safe_dump({"chatbot": {"taught_store": str(store.path)}}))
    monkeypatch.setenv("NLPSUITE_CONFIG", str(config))
    carried = keep_taught(versions, untaught)
    assert carried.id != untaught.id and "salary_advance" in ModelInfo.load(carried.folder).labels
    assert keep_taught(versions, carried).id == carried.id  # nothing missing: unchanged


def test_the_unknown_requests_halves_are_fixed_disjoint_and_balanced():
    from chatbot.intents import decline_examples, unknown_requests

    tune, test = unknown_requests("tune"), unknown_requests("test")
    assert not set(tune.texts) & set(test.texts)
    for kind in ("banking_unknown", "out_of_domain"):
        assert tune.labels.count(kind) >= 150 and test.labels.count(kind) >= 150
        assert abs(tune.labels.count(kind) - test.labels.count(kind)) <= 30
    assert unknown_requests("test").texts == test.texts  # the same split every time
    assert set(decline_examples().labels) == {"unsupported_banking", "out_of_scope"}
    with pytest.raises(ValueError):
        unknown_requests("train")


def test_a_bad_unknown_requests_row_names_its_line(tmp_path):
    from chatbot.intents import unknown_requests

    path = tmp_path / "unknown.csv"
    path.write_text("text,kind,topic\nwhat's my balance,banking_unknown,balance\nhello,weird,x\n")
    with pytest.raises(DataError, match="kind") as caught:
        unknown_requests("tune", path)
    assert f"{path}:3" in str(caught.value)


@pytest.mark.parametrize("text, entities, answer", [
    ("4242", [("card_last4", 0, 4)], True),
    ("it's C1003", [("customer_id", 5, 10)], True),
    ("the one ending 3141 please", [("card_last4", 15, 19)], True),
    ("freeze the card ending 4242", [("card_last4", 23, 27)], False),  # a request, not only a value
    ("I was charged 4242 twice", [("card_last4", 14, 18)], False),
    ("hello", [], False),
])
def test_a_message_that_only_gives_a_form_value_is_an_answer(text, entities, answer):
    from rasa.shared.nlu.training_data.message import Message

    from chatbot.components import INFORM, SlotValueAnswerClassifier

    component = SlotValueAnswerClassifier(SlotValueAnswerClassifier.get_default_config())
    message = Message({"text": text, "entities": [{"entity": e, "start": s, "end": t, "value": text[s:t]}
                                                  for e, s, t in entities],
                       "intent": {"name": "out_of_scope", "confidence": 0.9}})
    component.process([message])
    assert (message.get("intent")["name"] == INFORM) is answer


@pytest.mark.slow
def test_the_teach_page_and_its_api_are_for_operators_only(served, tmp_path):
    """The operator page: a stranger gets the sign-in page and 401s (before the body is read);
    an operator teaches, sees the intent listed, and removes it."""
    from fastapi.testclient import TestClient
    from web_testlib import AUTH, TEST_TOKEN

    from chatbot.web import plugin
    from shared.app.web import create_app

    root, store = served
    config = tmp_path / "nlpsuite.yml"
    config.write_text(yaml.safe_dump({"suite": {"var_dir": str(tmp_path / "var")}, "chatbot": {
        "taught_store": str(store.path), "classifier": {"model": str(root)}, "bank_db": f"sqlite:///{tmp_path / 'b.db'}",
        "rasa_url": "http://127.0.0.1:9"}}))
    client = TestClient(create_app(config, plugins=[plugin(config)], api_token=TEST_TOKEN),
                        base_url="http://127.0.0.1")
    item = NEW["round_up_donations"]
    body = {"intent": "round_up_donations", "examples": item["examples"], "answer": item["answer"]}
    page = client.get("/chatbot/teach")
    assert page.status_code == 401 and "Sign in" in page.text
    assert client.post("/chatbot/api/teach", json=body).status_code == 401
    assert client.delete("/chatbot/api/teach/round_up_donations").status_code == 401
    assert not store.path.exists()

    few = client.post("/chatbot/api/teach", json=body | {"examples": item["examples"][:3]}, headers=AUTH)
    assert few.status_code == 422 and "at least 5" in few.json()["detail"]
    taught = client.post("/chatbot/api/teach", json=body, headers=AUTH)
    assert taught.status_code == 200, taught.text
    assert taught.json()["intent"] == "round_up_donations" and "round_up_donations" in store.load()
    listed = client.get("/chatbot/teach", headers=AUTH)
    assert listed.status_code == 200 and "round_up_donations" in listed.text and "Remove" in listed.text
    assert _predict(root, item["probes"]).count("round_up_donations") >= 2
    assert client.delete("/chatbot/api/teach/round_up_donations", headers=AUTH).status_code == 200
    assert client.delete("/chatbot/api/teach/round_up_donations", headers=AUTH).status_code == 404
    assert "round_up_donations" not in _predict(root, item["probes"])


@pytest.mark.slow
def test_a_teach_that_fails_puts_the_store_back_and_serves_what_it_served(served, monkeypatch):
    import shared.teaching
    from chatbot.teach import teach_intent
    from shared.model_versions import ModelVersions

    root, store = served
    before = ModelVersions(root).current().id

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(shared.teaching, "teach", broken)
    with pytest.raises(OSError, match="disk full"):
        teach_intent(store, root, "gift_cards", NEW["gift_cards"]["examples"], NEW["gift_cards"]["answer"])
    assert store.load() == {} and ModelVersions(root).current().id == before


@pytest.mark.slow
def test_an_intent_a_full_training_has_learned_can_still_be_removed(served, training):
    """After the next full training the taught intent is a trained label (no example bank yet):
    --remove builds the bank from the training texts and drops the label."""
    from chatbot.teach import TaughtIntent, remove_intent
    from shared.model_dir import ModelInfo
    from shared.model_versions import ModelVersions

    root, store = served
    store.save({"card_arrival": TaughtIntent("card_arrival", ["x"] * 5, "an answer")})  # trained, and in the store
    result = remove_intent(store, root, "card_arrival", training=training)
    labels = ModelInfo.load(ModelVersions(root).current().folder).labels
    assert result["removed"] and "card_arrival" not in labels and "card_swallowed" in labels
    assert "card_arrival" not in _predict(root, ["my new card has still not arrived"])
    assert store.load() == {}
