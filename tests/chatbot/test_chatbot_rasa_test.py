"""`rasa test` with end-to-end test stories for the same flows as the webhook tests: the
trained model must predict every intent and action of each story."""
from __future__ import annotations

import json
import subprocess

from chatbot import server


def _story(name: str, *steps: str) -> str:
    return f"  - story: {name}\n    steps:\n" + "".join(steps)


def _user(text: str, intent: str) -> str:
    return f"      - user: |\n          {text}\n        intent: {intent}\n"


def _action(name: str) -> str:
    return f"      - action: {name}\n"


def _loop(name: str) -> str:
    return f"      - active_loop: {name}\n"


def _slots(**slots) -> str:
    lines = "".join(f"          - {k}: {json.dumps(v)}\n" for k, v in slots.items())
    return f"      - slot_was_set:\n{lines}"


def test_rasa_test_stories_pass(chatbot, tmp_path):
    ex = chatbot.examples
    stories = 'version: "3.1"\nstories:\n' + "".join([
        _story("greet and FAQ answer", _user(ex["greet"][0], "greet"), _action("utter_greet"),
               _user(ex["exchange_rate"][0], "exchange_rate"), _action("utter_faq_exchange_rate"),
               _user(ex["goodbye"][0], "goodbye"), _action("utter_goodbye")),
        _story("card delivery status through the form",
               _user(ex["card_arrival"][0], "card_arrival"), _action("utter_faq_card_arrival"),
               _action("card_status_form"), _loop("card_status_form"), _slots(requested_slot="customer_id"),
               _user("[C1001](customer_id)", "nlu_fallback"), _action("card_status_form"),
               _slots(customer_id="C1001", requested_slot="verification_code")),  # then the mailed code
        _story("freeze a card through the form",
               _user(ex["freeze_card"][0], "freeze_card"), _slots(card_operation="freeze"),
               _action("card_control_form"), _loop("card_control_form"), _slots(requested_slot="customer_id"),
               _user("[C1003](customer_id)", "nlu_fallback"), _action("card_control_form"),
               _slots(customer_id="C1003", requested_slot="verification_code")),  # then the code, the card
        _story("transfer status", _user(ex["pending_transfer"][0], "pending_transfer"),
               _action("utter_faq_pending_transfer"), _action("transfer_status_form"),
               _loop("transfer_status_form")),
        _story("handoff when asked", _user(ex["lost_or_stolen_card"][0], "lost_or_stolen_card"),
               _action("utter_faq_lost_or_stolen_card"), _user(ex["request_human"][0], "request_human"),
               _action("action_handoff"), _action("utter_anything_else")),
        _story("unreadable message goes to the FAQ fallback", _user("😀🙈🎉", "nlu_fallback"),
               _action("action_faq_fallback"), _slots(fallback_state="rephrase")),
    ])
    (tmp_path / "test_stories.yml").write_text(stories, encoding="utf-8")
    out = tmp_path / "results"
    run = subprocess.run(
        server.rasa_command("test", "core", "--stories", str(tmp_path / "test_stories.yml"), "-m", str(chatbot.model),
                            "--out", str(out), "--fail-on-prediction-errors", "--no-plot"),
        cwd=chatbot.project, env=chatbot.env, capture_output=True, text=True, timeout=300)
    failed = (out / "failed_test_stories.yml").read_text() if (out / "failed_test_stories.yml").is_file() else ""
    assert run.returncode == 0, (run.stdout[-3000:] + run.stderr[-3000:] + failed)
    report = json.loads((out / "story_report.json").read_text())
    assert report["conversation_accuracy"]["accuracy"] == 1.0
    assert report["conversation_accuracy"]["total"] == 6
