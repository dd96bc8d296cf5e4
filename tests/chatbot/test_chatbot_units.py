"""Fast tests of the chatbot's parts without servers: threshold choice, FAQ table, project
generation, request guard, database queries, tracker-store settings, the web proxy."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from shared.data import DataError

REPO = Path(__file__).resolve().parents[2]


def test_threshold_rejects_where_wrong_answers_outweigh_right_ones():
    from shared.evaluation.threshold import choose_threshold

    # Below 0.5 the answers are mostly wrong, above mostly right.
    conf = [0.95, 0.9, 0.85, 0.8, 0.7, 0.45, 0.42, 0.4, 0.35, 0.3]
    correct = [1, 1, 1, 1, 1, 0, 0, 1, 0, 0]
    choice = choose_threshold(conf, correct)
    assert 0.45 < choice.threshold <= 0.7
    assert choice.coverage == 0.5 and choice.accepted_accuracy == 1.0 and choice.overall_accuracy == 0.6
    # All right: accept everything above the floor. Costlier mistakes: a higher threshold.
    assert choose_threshold(conf, [1] * 10).threshold == 0.2
    assert choose_threshold(conf, correct, wrong_cost=0.1).threshold < choice.threshold
    with pytest.raises(ValueError):
        choose_threshold([0.5], [1, 0])


def test_faq_table_answers_every_banking77_intent():
    from chatbot.faq import RETRIEVAL_ONLY, answers_by_intent, load_faq, response_name

    entries = load_faq(REPO / "data/chatbot/faq.csv")
    categories = json.loads((REPO / "data/banking77/categories.json").read_text())
    answers = answers_by_intent(entries)
    assert sorted(answers) == sorted(categories)
    assert all(10 <= len(a) <= 300 for a in answers.values())
    assert any(e.intent == RETRIEVAL_ONLY for e in entries)
    names = [response_name(c) for c in categories]
    assert len(set(names)) == 77 and response_name("reverted_card_payment?") == "utter_faq_reverted_card_payment"


def test_faq_table_errors_name_line_and_field(tmp_path):
    from chatbot.faq import load_faq

    bad = tmp_path / "faq.csv"
    bad.write_text("intent,question,answer\ncard_arrival,Where is it?,On its way\natm_support,Which ATMs?,\n")
    with pytest.raises(DataError, match=r"faq.csv:3: field 'answer': empty answer"):
        load_faq(bad)
    bad.write_text("intent,question,answer\ncard_arrival,a,b\ncard_arrival,c,d\n")
    with pytest.raises(DataError, match=r"faq.csv:3: field 'intent': intent 'card_arrival' already answered on line 2"):
        load_faq(bad)


def test_build_project_generates_data_rules_and_config(tmp_path):
    from chatbot.project import build_project
    from chatbot.settings import ChatbotSettings

    settings = ChatbotSettings(tracker_store=f"sqlite:///{tmp_path / 't.db'}", fallback_threshold="model")
    report = build_project(tmp_path / "p", settings, per_intent=5, intents=["card_arrival", "exchange_rate"])
    assert report.intents == ["card_arrival", "exchange_rate"] and report.examples == 10
    nlu = yaml.safe_load((tmp_path / "p/data/nlu.yml").read_text())["nlu"]
    assert [i["intent"] for i in nlu] == report.intents
    rules = {r["rule"]: r["steps"] for r in yaml.safe_load((tmp_path / "p/data/faq_rules.yml").read_text())["rules"]}
    assert rules["answer card_arrival"][-1] == {"active_loop": "card_status_form"}
    assert rules["answer exchange_rate"] == [{"intent": "exchange_rate"}, {"action": "utter_faq_exchange_rate"}]
    config = yaml.safe_load((tmp_path / "p/config.yml").read_text())
    names = [c["name"] for c in config["pipeline"]]
    assert names == ["RegexEntityExtractor", "chatbot.components.CoreIntentClassifier",
                     "chatbot.components.SlotValueAnswerClassifier", "chatbot.components.CalibratedFallbackClassifier"]
    assert config["pipeline"][3]["threshold"] == "model"
    declines = {i["intent"]: i for i in yaml.safe_load((tmp_path / "p/data/decline_nlu.yml").read_text())["nlu"]}
    assert set(declines) == {"unsupported_banking", "out_of_scope"}  # the tune half of the unknown requests
    in_form = {r["rule"]: r for r in yaml.safe_load((tmp_path / "p/data/form_rules.yml").read_text())["rules"]}
    question = in_form["answer exchange_rate during card_status_form"]
    assert question["condition"] == [{"active_loop": "card_status_form"}]
    assert question["steps"][-1] == {"action": "utter_continue_card_status_form"}
    assert in_form["an answer carries on during card_control_form"]["steps"] == [
        {"intent": "inform"}, {"action": "action_take_form_answer"}, {"action": "card_control_form"},
        {"active_loop": "card_control_form"}]
    assert in_form["taught_intent during card_status_form"]["steps"][1] == {"action": "action_taught_answer"}
    assert in_form["stop ends the form during card_control_form"]["steps"][1:3] == [
        {"action": "action_deactivate_loop"}, {"active_loop": None}]
    endpoints = yaml.safe_load((tmp_path / "p/endpoints.yml").read_text())
    assert endpoints["tracker_store"] == {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "t.db"),
                                          "query": {"timeout": "10"}}  # SQLite's busy timeout, in seconds
    import sqlite3

    with sqlite3.connect(tmp_path / "t.db") as made:  # created in WAL mode, which the file keeps
        assert made.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:5055/webhook"
    with pytest.raises(DataError, match="not BANKING77 intents: card_arival"):
        build_project(tmp_path / "q", settings, intents=["card_arival"])


def test_postgres_tracker_store_takes_its_password_from_the_environment():
    from chatbot.project import tracker_store_config

    config = tracker_store_config("postgresql://rasa@db.internal:5433/tracker", "TRACKER_PW")
    assert config == {"type": "SQL", "dialect": "postgresql", "url": "db.internal", "port": 5433,
                      "db": "tracker", "username": "rasa", "password": "${TRACKER_PW}"}


def test_build_data_command_reports_bad_intent_with_exit_2(tmp_path, capsys):
    from shared.app.cli import main

    assert main(["chatbot", "build-data", "--out", str(tmp_path / "p"), "--intents", "nope"]) == 2
    assert "not BANKING77 intents: nope" in capsys.readouterr().err


@pytest.mark.parametrize("body, problem", [
    (b'{"sender": "u1", "message": "hi"}', None),
    (b'{"message": "hi"}', None),
    (b"not json", "invalid JSON"),
    (b'"hi"', "JSON object"),
    (b'{"sender": "u1", "message": null}', "field 'message'"),
    (b'{"sender": "' + b"x" * 200 + b'", "message": "hi"}', "field 'sender'"),
])
def test_request_guard(body, problem):
    from chatbot.channels import check_request

    payload, error = check_request(body)
    if problem is None:
        assert error is None and payload["message"] == "hi"
    else:
        assert payload is None and error[0] == 400 and problem in error[1]


def test_bank_queries_and_tickets(tmp_path):
    from chatbot.bank import Bank, parse_customer_id, parse_last4, seed_demo

    bank = Bank(f"sqlite:///{tmp_path / 'bank.db'}")
    assert seed_demo(bank) > 0 and seed_demo(bank) == 0  # idempotent
    assert [c.last4 for c in bank.customer("C1001").cards] == ["4242", "1234"]
    assert bank.set_card_status("C1001", "4242", "frozen").status == "frozen"
    assert bank.set_card_status("C1002", "4242", "frozen") is None  # not C1002's card
    ticket = bank.open_ticket("web-1", "C1001", "help")
    assert ticket.reference == "T-00001" and bank.tickets()[0].summary == "help"
    assert parse_customer_id("my number is c-1001!") == "C1001" and parse_customer_id("C12345") is None
    assert parse_last4("ends 3141") == "3141" and parse_last4("12345") is None


def test_uncertain_guess_looks_past_the_fallback():
    from chatbot.uncertain import classifier_guess

    parse = {"intent": {"name": "nlu_fallback", "confidence": 0.3},
             "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.3}, {"name": "greet", "confidence": 0.2}]}
    assert classifier_guess(parse) == ("greet", 0.2, True)
    assert classifier_guess({"intent": {"name": "greet", "confidence": 0.9}, "intent_ranking": []}) == ("greet", 0.9, False)


def test_web_proxy_forwards_to_rasa_and_reports_an_unreachable_server():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from chatbot.web import make_router

    seen = []

    def rasa(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        if seen[-1].get("message") == "bad":
            return httpx.Response(400, json={"error": "field 'message': nope"})
        return httpx.Response(200, json=[{"recipient_id": "s", "text": "hello"}])

    app = FastAPI()
    app.include_router(make_router("http://rasa.test", httpx.MockTransport(rasa)), prefix="/chatbot")
    client = TestClient(app)
    assert "<form" in client.get("/chatbot/").text and "fetch(" in client.get("/chatbot/chat.js").text
    assert client.post("/chatbot/webhook", json={"sender": "s", "message": "hi"}).json()[0]["text"] == "hello"
    assert seen[-1] == {"sender": "s", "message": "hi"}
    bad = client.post("/chatbot/webhook", json={"sender": "s", "message": "bad"})
    assert bad.status_code == 400 and "field 'message'" in bad.json()["error"]
    assert client.post("/chatbot/webhook", content=b"x" * 70000).status_code == 413

    def down(request):
        raise httpx.ConnectError("refused")

    app = FastAPI()
    app.include_router(make_router("http://rasa.test", httpx.MockTransport(down)), prefix="/chatbot")
    response = TestClient(app).post("/chatbot/webhook", json={"sender": "s", "message": "hi"})
    assert response.status_code == 502 and "not reachable" in response.json()["error"]


def test_the_suite_s_intent_data_and_the_generated_project_have_the_same_intents(tmp_path):
    """`nlpsuite run` trains on chatbot.intents; `nlpsuite chatbot train` on the generated
    project: both must know every intent of the domain, no more and no less."""
    from chatbot.intents import load_intent_data
    from chatbot.project import build_project
    from chatbot.settings import ChatbotSettings

    settings = ChatbotSettings(tracker_store=f"sqlite:///{tmp_path / 't.db'}")
    project = build_project(tmp_path / "p", settings, data_dir=REPO / "data" / "banking77").project_dir
    domain = set()
    for path in (project / "domain").glob("*.yml"):
        domain |= set(yaml.safe_load(path.read_text())["intents"])
    nlu = set()
    for path in (project / "data").glob("*.yml"):
        nlu |= {item["intent"] for item in yaml.safe_load(path.read_text()).get("nlu", []) if "intent" in item}
    from chatbot.components import COMPONENT_INTENTS

    assert COMPONENT_INTENTS <= domain  # set by the components ("4242" alone, a taught intent), not trained
    domain -= COMPONENT_INTENTS
    data = load_intent_data()
    assert set(data["train"].labels) == domain == nlu
    assert set(data["test"].labels) == domain - {"unsupported_banking"}  # its test half is bench.live's
    assert len(domain) == 77 + 12


def test_the_rest_channel_limits_messages_per_sender_per_minute():
    from chatbot.channels import GuardedRestInput, SenderRateLimit

    now = [1000.0]
    limit = SenderRateLimit(3, clock=lambda: now[0])
    assert [limit.retry_after("a") for _ in range(3)] == [None, None, None]
    wait = limit.retry_after("a")
    assert wait is not None and 1 <= wait <= 61
    assert limit.retry_after("b") is None  # other senders are not held up
    now[0] += 61
    assert limit.retry_after("a") is None  # the window slid on
    assert GuardedRestInput.from_credentials({"messages_per_minute": 7}).limit.per_minute == 7
    assert GuardedRestInput.from_credentials(None).limit.per_minute == 30


def test_sender_ids_are_issued_and_signed():
    from chatbot.senders import is_issued, issue, sender_key

    key = sender_key("token-0123456789abcdef")
    sender = issue(key)
    assert is_issued(key, sender) and sender.startswith("chat-")
    name, signature = sender.rsplit(".", 1)
    assert not is_issued(key, name)  # no signature
    assert not is_issued(key, f"{name}x.{signature}")  # another conversation's name
    assert not is_issued(key, f"{name}.{'0' * len(signature)}")  # a guessed signature
    assert not is_issued(sender_key("another-token-0123456789"), sender)  # a new token ends old ids
    assert not is_issued(key, "é." + signature)
    assert is_issued(None, "anything")  # a bot outside the suite (no token) takes any id, as Rasa does
