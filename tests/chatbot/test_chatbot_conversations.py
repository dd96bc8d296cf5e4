"""Conversations with the real Rasa server and action server over the REST webhook."""
from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from web_testlib import latest_code

from chatbot.channels import EMPTY_REPLY
from shared.data import DataError


def say(servers, sender: str, message, *, status: int = 200):
    response = httpx.post(f"{servers.rasa}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                          timeout=120)
    assert response.status_code == status, response.text
    return response.json()


def texts(replies) -> list[str]:
    return [r["text"] for r in replies if "text" in r]


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def user_events(chatbot, sender: str) -> list[str]:
    with sqlite3.connect(chatbot.root / "tracker.db") as db:
        return [row[0] for row in db.execute(
            "SELECT json_extract(data, '$.text') FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
            (sender,))]


def test_greeting_and_faq_answer(chatbot, servers):
    sender = new_sender()
    assert "Harbor Bank assistant" in texts(say(servers, sender, chatbot.examples["greet"][0]))[0]
    answer = texts(say(servers, sender, chatbot.examples["top_up_limits"][0]))
    assert answer == ["You can top up up to 10,000 GBP a day by card and any amount by bank transfer."]


def verify(chatbot, servers, sender: str, customer: str, email: str) -> str:
    """Give the customer number, then the code mailed for it; the bot's answer to the code."""
    started = time.time()
    asked = " ".join(texts(say(servers, sender, customer)))
    assert "emailed a 6-digit code" in asked and "6-digit code" in asked, asked
    return " ".join(texts(say(servers, sender, latest_code(chatbot.root / "outbox", email, started))))


def verify_code(chatbot, servers, sender: str, email: str, since: float) -> str:
    """Type the code mailed to ``email`` after ``since``; the bot's answer."""
    return " ".join(texts(say(servers, sender, latest_code(chatbot.root / "outbox", email, since))))


def test_card_delivery_form_asks_validates_and_looks_up(chatbot, servers):
    sender = new_sender()
    first = texts(say(servers, sender, chatbot.examples["card_arrival"][0]))
    assert "arrive within 5 working days" in first[0] and "customer number" in first[-1]
    wrong = texts(say(servers, sender, "Ⅻ"))  # nothing the classifier can place: taken as an answer
    assert "doesn't look like a customer number" in wrong[0] and "customer number" in wrong[-1]
    status = verify(chatbot, servers, sender, "it is c-1001", "ada@example.com")
    assert "ending in 1234 is on its way" in status and "ending in 4242 is active" in status


def test_no_customer_data_before_the_code_and_numbers_cannot_be_enumerated(chatbot, servers):
    known, unknown = new_sender(), new_sender()
    replies = {}
    for sender, number in ((known, "C1001"), (unknown, "C9999")):
        say(servers, sender, chatbot.examples["card_arrival"][0])
        replies[sender] = " ".join(texts(say(servers, sender, number)))
    assert "1234" not in replies[known] and "Ada" not in replies[known]  # nothing shown yet
    assert replies[unknown].replace("C9999", "C1001") == replies[known]  # an unknown number: word for word the same
    for left in ("2 tries", "1 try"):
        wrong = {sender: " ".join(texts(say(servers, sender, "123456"))) for sender in (known, unknown)}
        assert wrong[known] == wrong[unknown] and f"isn't right" in wrong[known] and left in wrong[known]
    locked = {sender: " ".join(texts(say(servers, sender, "000000"))) for sender in (known, unknown)}
    assert locked[unknown].replace("C9999", "C1001") == locked[known]  # the third wrong code: locked, alike
    assert "can't go on with customer number C1001" in locked[known] and "talk to a person" in locked[known]
    again = " ".join(texts(say(servers, known, "C1001")))
    assert "can't go on" in again and "1234" not in again  # locked for this conversation


def test_a_proof_lapses_when_the_conversation_sits_idle(chatbot, servers):
    from datetime import datetime, timedelta

    from chatbot.bank import Bank
    from chatbot.verification import Verification

    sender = new_sender()
    say(servers, sender, chatbot.examples["pending_transfer"][0])
    assert "TR-5003" in verify(chatbot, servers, sender, "C1002", "alan@example.com")
    say(servers, sender, chatbot.examples["pending_transfer"][0])  # still fresh: no second code
    bank = Bank(chatbot.settings.bank_db)
    with bank.session() as s, s.begin():
        s.get(Verification, (sender, "C1002")).verified_until = datetime.utcnow() - timedelta(minutes=1)
    again = " ".join(texts(say(servers, sender, chatbot.examples["pending_transfer"][0])))
    assert "TR-5003" not in again and ("6-digit code" in again or "customer number" in again), again


def test_freeze_then_unfreeze_card_through_the_form(chatbot, servers):
    from chatbot.bank import Bank

    bank = Bank(chatbot.settings.bank_db)
    sender = new_sender()
    assert "customer number" in texts(say(servers, sender, chatbot.examples["freeze_card"][0]))[-1]
    assert "last 4 digits" in verify(chatbot, servers, sender, "C1003", "grace@example.com")
    mismatch = texts(say(servers, sender, "0000"))
    assert "couldn't find a card ending in 0000" in mismatch[0] and "3141" in mismatch[0]
    assert "is frozen" in " ".join(texts(say(servers, sender, "3141")))
    assert {c.last4: c.status for c in bank.customer("C1003").cards}["3141"] == "frozen"
    # the customer number is remembered: the second form asks only for the card
    assert "last 4 digits" in texts(say(servers, sender, chatbot.examples["unfreeze_card"][0]))[-1]
    assert "unfrozen" in " ".join(texts(say(servers, sender, "the one ending 3141")))
    assert {c.last4: c.status for c in bank.customer("C1003").cards}["3141"] == "active"


def test_transfer_status_lookup(chatbot, servers):
    sender = new_sender()
    say(servers, sender, chatbot.examples["pending_transfer"][0])
    reply = verify(chatbot, servers, sender, "C1002", "alan@example.com")
    assert "TR-5003" in reply and "failed" in reply and "invalid account number" in reply


def test_handoff_records_a_ticket(chatbot, servers):
    from chatbot.bank import Bank

    sender = new_sender()
    say(servers, sender, chatbot.examples["lost_or_stolen_card"][0])
    replies = say(servers, sender, chatbot.examples["request_human"][0])
    ticket = next(r["custom"]["handoff"]["ticket"] for r in replies if "custom" in r)
    assert ticket in texts(replies)[0]
    stored = [t for t in Bank(chatbot.settings.bank_db).tickets() if t.reference == ticket]
    assert stored and stored[0].sender_id == sender
    assert chatbot.examples["lost_or_stolen_card"][0] in stored[0].summary


def test_fallback_answers_from_the_faq_search(chatbot, servers):
    message = "Opening hours"
    # Premise: the tiny classifier knows none of these words, so the message falls back.
    assert not {w.lower() for w in message.split()} & chatbot.vocab
    replies = say(servers, new_sender(), message)
    assert "24/7" in texts(replies)[0]
    match = next(r["custom"]["faq"] for r in replies if "custom" in r)
    assert match["question"] == "What are your opening hours?" and match["score"] >= chatbot.settings.retrieval_threshold


@pytest.mark.parametrize("message", ["😀🙈🎉", "Wo finde ich meine Überweisung von gestern?"])
def test_unreadable_or_foreign_message_asks_to_rephrase_then_offers_a_person(chatbot, servers, message):
    sender = new_sender()
    first = say(servers, sender, message)
    assert "say it another way" in texts(first)[0] and first[0]["buttons"][0]["payload"] == "/request_human"
    replies = say(servers, sender, message)  # a second miss in a row
    assert "talk to a person" in texts(replies)[0]
    assert replies[0]["buttons"][0]["payload"] == "/request_human"
    # the button's payload works and hands over
    assert "ticket T-" in texts(say(servers, sender, replies[0]["buttons"][0]["payload"]))[0]


def test_a_form_is_interrupted_by_a_question_and_resumes_on_yes(chatbot, servers):
    sender = new_sender()
    assert "customer number" in texts(say(servers, sender, chatbot.examples["card_arrival"][1]))[-1]
    answer = texts(say(servers, sender, chatbot.examples["top_up_limits"][2]))
    assert "10,000 GBP a day" in answer[0] and "carry on" in answer[-1]
    assert "customer number" in texts(say(servers, sender, chatbot.examples["affirm"][0]))[-1]
    stopped = texts(say(servers, sender, chatbot.examples["stop"][0]))
    assert "stopped" in stopped[0]
    assert "Harbor Bank assistant" in texts(say(servers, sender, chatbot.examples["greet"][0]))[0]  # the form is gone


def test_after_an_interruption_the_value_asked_for_carries_on_the_form(chatbot, servers):
    """ "Shall we carry on?" answered with the customer number or the card digits, not "yes"."""
    from chatbot.bank import Bank

    sender = new_sender()
    assert "customer number" in texts(say(servers, sender, chatbot.examples["freeze_card"][1]))[-1]
    assert "carry on" in texts(say(servers, sender, chatbot.examples["top_up_limits"][3]))[-1]
    started = time.time()
    asked = " ".join(texts(say(servers, sender, "it's C1003")))  # the value instead of "yes"
    assert "6-digit code" in asked and "not something I can help with" not in asked
    assert "last 4 digits" in verify_code(chatbot, servers, sender, "grace@example.com", started)
    assert "carry on" in texts(say(servers, sender, chatbot.examples["exchange_rate"][0]))[-1]
    done = " ".join(texts(say(servers, sender, "3141")))
    assert "is frozen" in done, done
    assert {c.last4: c.status for c in Bank(chatbot.settings.bank_db).customer("C1003").cards}["3141"] == "frozen"
    say(servers, sender, chatbot.examples["unfreeze_card"][0])
    assert "unfrozen" in " ".join(texts(say(servers, sender, "3141")))


def test_a_bare_number_outside_a_form_asks_what_it_is_for(chatbot, servers):
    assert "What would you like me to do with that" in texts(say(servers, new_sender(), "4242"))[0]


@pytest.mark.parametrize("message", ["", "   \n\t "])
def test_empty_message_gets_a_polite_answer(servers, message):
    assert texts(say(servers, new_sender(), message)) == [EMPTY_REPLY]


def test_very_long_message_is_declined_politely_and_the_conversation_goes_on(chatbot, servers):
    sender = new_sender()
    say(servers, sender, chatbot.examples["greet"][1])
    reply = texts(say(servers, sender, "card " * 4000))[0]
    assert "20,000 characters" in reply
    assert "top up" in texts(say(servers, sender, chatbot.examples["top_up_limits"][1]))[0]
    assert user_events(chatbot, sender) == [chatbot.examples["greet"][1], chatbot.examples["top_up_limits"][1]]


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "invalid JSON"),
    (b"", "empty request body"),
    (b"[1, 2]", "JSON object"),
    (b'{"sender": "a"}', "field 'message'"),
    (b'{"sender": "a", "message": 42}', "field 'message'"),
    (b'{"sender": {"id": 1}, "message": "hi"}', "field 'sender'"),
    (b'{"sender": "a b/../c", "message": "hi"}', "field 'sender'"),
    (b'{"sender": "a", "message": "hi", "metadata": "x"}', "field 'metadata'"),
])
def test_bad_requests_get_a_4xx_with_a_reason(servers, body, reason):
    response = httpx.post(f"{servers.rasa}/webhooks/rest/webhook", content=body,
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_server_keeps_serving_and_unknown_senders_get_a_new_conversation(chatbot, servers):
    httpx.post(f"{servers.rasa}/webhooks/rest/webhook", content=b"\xff\xfe", timeout=30)
    sender = new_sender()  # never seen before
    assert "Harbor Bank assistant" in texts(say(servers, sender, chatbot.examples["greet"][2]))[0]
    tracker = httpx.get(f"{servers.rasa}/conversations/{sender}/tracker", timeout=30).json()
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == [chatbot.examples["greet"][2]]


def test_parse_gives_calibrated_top10_ranking(chatbot, servers):
    text = chatbot.examples["exchange_rate"][0]
    parsed = httpx.post(f"{servers.rasa}/model/parse", json={"text": text}, timeout=30).json()
    ranking = parsed["intent_ranking"]
    assert parsed["intent"]["name"] == "exchange_rate" and len(ranking) == 10
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])
    # 16 intents: the top 10 hold most, not all, of the distribution
    assert 0.5 < sum(r["confidence"] for r in ranking) < 1.0
    unreadable = httpx.post(f"{servers.rasa}/model/parse", json={"text": "🙈"}, timeout=30).json()
    assert unreadable["intent"]["name"] == "nlu_fallback"


def test_export_uncertain_then_merge_labels_into_the_next_build(chatbot, servers, tmp_path):
    from chatbot.project import build_project

    say(servers, new_sender(), "Opening hours")  # falls back: uncertain
    out = tmp_path / "review.csv"
    run = subprocess.run([sys.executable, "-m", "shared.app.cli", "chatbot", "--config", str(chatbot.config_file),
                          "export-uncertain", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert "Opening hours" in {r["text"] for r in rows}
    assert all(float(r["confidence"]) < 0.5 or r["fell_back"] == "1" for r in rows)
    for row in rows:
        row["label"] = "greet" if row["text"] == "Opening hours" else ""
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = build_project(tmp_path / "next", chatbot.settings, per_intent=12,
                           intents=["card_arrival", "exchange_rate"], labels=out)
    assert report.merged_labels == 1  # the bot's own intents take reviewed labels too
    assert "- Opening hours" in (tmp_path / "next" / "data" / "reviewed_nlu.yml").read_text()
    rows[0]["label"], rows[0]["text"] = "exchange_rate", "what rate do you give for yen"
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = build_project(tmp_path / "next", chatbot.settings, per_intent=12,
                           intents=["card_arrival", "exchange_rate"], labels=out)
    assert "- what rate do you give for yen" in (tmp_path / "next" / "data" / "nlu.yml").read_text()
    rows[0]["label"] = "no_such_intent"
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(DataError, match="review.csv:2: field 'label': unknown intent 'no_such_intent'"):
        build_project(tmp_path / "next", chatbot.settings, per_intent=12, intents=["card_arrival"], labels=out)


def test_a_flooding_sender_gets_429_and_others_are_served(chatbot, servers):
    sender = new_sender()
    limit = chatbot.settings.messages_per_minute
    for _ in range(limit):
        say(servers, sender, "")  # cheap messages still count
    response = httpx.post(f"{servers.rasa}/webhooks/rest/webhook", json={"sender": sender, "message": "hi"},
                          timeout=30)
    assert response.status_code == 429 and "at most" in response.json()["error"]
    assert int(response.headers["Retry-After"]) >= 1
    assert "Harbor Bank assistant" in texts(say(servers, new_sender(), chatbot.examples["greet"][0]))[0]


def test_an_oversized_body_is_refused_before_it_is_read(servers):
    """Only the headers are sent: Rasa must answer 413 without waiting for 2 MiB of body (the
    action server under the suite's launcher too: tests/app/test_suite_e2e.py)."""
    from web_testlib import status_of_headers_only

    assert status_of_headers_only(f"{servers.rasa}/webhooks/rest/webhook", 2 * 1024 * 1024) == 413
