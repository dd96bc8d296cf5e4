"""The bot `make run` builds, tested on exactly its model (the intent model a first
`nlpsuite run` serves, trained on BANKING77 plus the bot's own intents): every domain intent is in the
classifier, 30+ multi-turn `rasa test` stories pass, and the journeys of a new user work over
the REST webhook with the real action server."""
from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from web_testlib import latest_code

from chatbot import server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
STORIES = Path(__file__).parent / "stories" / "quick_model_stories.yml"


def test_the_served_classifier_knows_every_intent_of_the_domain(quick_bot, quick_intents):
    from chatbot.components import COMPONENT_INTENTS
    from shared.model_dir import ModelInfo
    from shared.model_versions import served_folder

    domain_intents = set()
    for path in (quick_bot.project / "domain").glob("*.yml"):
        domain_intents |= set(yaml.safe_load(path.read_text()).get("intents", []))
    labels = set(ModelInfo.load(served_folder(quick_intents)).labels)
    assert {"greet", "stop", "out_of_scope", "unsupported_banking", "request_human", "freeze_card",
            "unfreeze_card"} <= domain_intents
    assert COMPONENT_INTENTS <= domain_intents and not COMPONENT_INTENTS & labels
    domain_intents -= COMPONENT_INTENTS  # set by components ("4242" alone, a taught intent), not classified
    assert domain_intents == labels, (sorted(domain_intents - labels), sorted(labels - domain_intents))


def test_the_bot_s_own_intents_are_recognised_in_phrasings_it_never_saw(quick_intents):
    from chatbot.intents import OWN_TEST, own_examples
    from shared.data import load_labelled
    from shared.inference import Predictor

    heldout = load_labelled(OWN_TEST, text_col="text", label_col="intent")
    trained = {t.lower() for texts in own_examples().values() for t in texts}
    assert not [t for t in heldout.texts if t.lower() in trained]
    predictions = Predictor(quick_intents, "onnx", threads=1).predict(heldout.texts, top_k=1)
    wrong = [(t, y, p.label) for t, y, p in zip(heldout.texts, heldout.labels, predictions) if p.label != y]
    assert len(wrong) <= len(heldout) // 10, wrong


def test_rasa_test_stories_pass_on_the_quick_model(quick_bot, tmp_path):
    stories = yaml.safe_load(STORIES.read_text())["stories"]
    assert len(stories) >= 30
    out = tmp_path / "results"
    run = subprocess.run(
        server.rasa_command("test", "core", "--stories", str(STORIES), "-m", str(quick_bot.model),
                            "--out", str(out), "--no-plot"),
        cwd=quick_bot.project, env=quick_bot.env, capture_output=True, text=True, timeout=900)
    failed = (out / "failed_test_stories.yml").read_text() if (out / "failed_test_stories.yml").is_file() else ""
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((out / "story_report.json").read_text())
    assert report["conversation_accuracy"]["total"] == len(stories)
    assert report["conversation_accuracy"]["accuracy"] == 1.0, failed


def _replies(servers, sender: str, message: str) -> list[dict]:
    response = httpx.post(f"{servers.rasa}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                          timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def _say(servers, sender: str, message: str) -> list[str]:
    return [r["text"] for r in _replies(servers, sender, message) if "text" in r]


def test_a_new_user_s_conversations_over_the_webhook(quick_bot, quick_servers):
    def conversation():
        sender = f"journey-{uuid.uuid4().hex[:8]}"
        return lambda message: " | ".join(_say(quick_servers, sender, message))

    say = conversation()
    assert "Harbor Bank assistant" in say("hello there")
    assert "passed our conversation to a colleague" in conversation()("can I talk to a real person?")
    assert "not something I can help with" in conversation()("what's the weather like in Paris?")
    declined = _replies(quick_servers, f"journey-{uuid.uuid4().hex[:8]}", "what's my balance?")
    assert "can't do that in this chat" in declined[0]["text"], declined  # not an unrelated FAQ answer
    assert declined[0]["buttons"][0]["payload"] == "/request_human"

    say = conversation()
    assert "customer number" in say("I want to freeze my card")
    stopped = say("actually never mind, stop")
    assert "stopped" in stopped and "close" not in stopped.lower(), stopped

    say = conversation()
    assert "customer number" in say("my card still hasn't arrived")
    answer = say("I was charged twice for the same coffee")
    assert "carry on" in answer and "customer number" not in answer, answer
    assert "customer number" in say("yes")
    started = time.time()
    assert "6-digit code" in say("C1001")
    status = say(latest_code(quick_bot.root / "outbox", "ada@example.com", started))
    assert "ending in 1234 is on its way" in status and "anything else" in status.lower(), status

    say = conversation()
    say("my card still hasn't arrived")
    assert "passed our conversation to a colleague" in say("can I talk to a human?")


def test_a_new_version_is_served_without_a_restart(quick_bot, quick_servers):
    """The bot serves the versions folder `nlpsuite run` gives it: switching the pointer to
    another version changes the answers within seconds, while four clients keep parsing: none
    of their requests fails and none waits a second."""
    import shutil
    import threading
    import time

    from shared.model_dir import ModelInfo
    from shared.model_versions import ModelVersions, VersionInfo

    versions = ModelVersions(quick_bot.settings.classifier.model)
    original = versions.current()
    staged = versions.stage()
    shutil.copytree(original.folder, staged, dirs_exist_ok=True)
    info = ModelInfo.load(staged)  # a version that reads "greet" as "goodbye" and back
    greet, goodbye = info.labels.index("greet"), info.labels.index("goodbye")
    info.labels[greet], info.labels[goodbye] = "goodbye", "greet"
    info.save(staged)
    swapped = versions.commit(staged, VersionInfo(recipe="probe", note="labels swapped for a test"))

    def intent(text: str, client=httpx) -> str:
        response = client.post(f"{quick_servers.rasa}/model/parse", json={"text": text}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["intent"]["name"]

    failures, slowest, stop = [], [0.0], threading.Event()

    def client_loop():
        with httpx.Client() as client:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    intent("I still have not received my new card", client)
                except Exception as exc:  # noqa: BLE001 (counted, not raised, in the thread)
                    failures.append(repr(exc))
                slowest[0] = max(slowest[0], time.perf_counter() - started)

    assert intent("hello there") == "greet"
    clients = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(2)
        versions.switch(swapped.id)
        seen, deadline = [], time.monotonic() + 60
        while not seen or seen[-1] != "goodbye":
            assert time.monotonic() < deadline, seen
            seen.append(intent("hello there"))
        assert set(seen) <= {"greet", "goodbye"}
    finally:
        stop.set()
        for thread in clients:
            thread.join()
        versions.switch(original.id)
        deadline = time.monotonic() + 60
        while intent("hello there") != "greet":
            assert time.monotonic() < deadline
    assert not failures and slowest[0] < 1.0, (failures[:3], slowest[0])


def _teach(quick_bot, *args: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run([sys.executable, "-m", "shared.app.cli", "chatbot", "--config", str(quick_bot.config_file),
                           "teach", *args], capture_output=True, text=True, timeout=300)


def test_an_intent_taught_to_the_running_bot_is_answered_within_a_minute(quick_bot, quick_servers, tmp_path):
    """`nlpsuite chatbot teach` while the bot runs: no restart, no rasa train; a phrasing that is not
    among the examples gets the taught answer within 60 s; bad requests change nothing; --remove."""
    from shared.model_versions import ModelVersions

    item = yaml.safe_load((Path(__file__).parents[2] / "data/chatbot/new_intents.yml").read_text())["intents"]["gift_cards"]
    versions = ModelVersions(quick_bot.settings.classifier.model)
    original = versions.current()
    examples = tmp_path / "gift_cards.txt"
    examples.write_text("\n".join(item["examples"][:4]) + "\n")
    refused = _teach(quick_bot, "--intent", "gift_cards", "--examples", str(examples), "--answer", item["answer"])
    assert refused.returncode != 0 and "at least 5" in refused.stderr and str(examples) in refused.stderr
    existing = _teach(quick_bot, "--intent", "card_arrival", "--examples", str(examples), "--answer", "x")
    assert existing.returncode != 0 and "exists already" in existing.stderr
    assert versions.current().id == original.id and not Path(quick_bot.settings.taught_store).exists()

    examples.write_text("\n".join(item["examples"]) + "\n")
    started = time.monotonic()
    done = _teach(quick_bot, "--intent", "gift_cards", "--examples", str(examples), "--answer", item["answer"])
    assert done.returncode == 0, done.stderr
    sender = f"teach-{uuid.uuid4().hex[:8]}"
    while item["answer"] not in _say(quick_servers, sender, item["probes"][1]):
        assert time.monotonic() - started < 60, "the taught answer did not come within 60 s"
        time.sleep(0.5)
    assert "Harbor Bank assistant" in " ".join(_say(quick_servers, sender, "hello there"))  # the rest still works
    try:
        removed = _teach(quick_bot, "--intent", "gift_cards", "--remove")
        assert removed.returncode == 0, removed.stderr
        deadline = time.monotonic() + 60
        while item["answer"] in _say(quick_servers, sender, item["probes"][1]):
            assert time.monotonic() < deadline
            time.sleep(0.5)
    finally:
        versions.switch(original.id)
