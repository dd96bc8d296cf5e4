"""`nlpsuite run` end to end: the whole suite from a clean var/ folder, driven like a user.

Tiny models stand in for the real ones (``suite.models`` and ``recommender.model_dir``), every
server is real: the mail outbox (SMTP), the action server, `rasa run`, the web app and the
monitor's scheduler. Headless Chromium opens each page and chats one turn; an interaction is
posted and recommendations come back; a demo feed's negative headlines trigger one alert whose
mail lands in var/outbox; Ctrl-C (SIGINT) stops everything and no process is left.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
import yaml

from core_testdata import REPO, build_tiny_bert, tiny_args
from fin_testlib import build_sentiment_model, entries_for, rss
from rec_testlib import build_tiny_encoder, make_catalogue, tiny_fit_config
from web_testlib import chromium_page, free_port, needs_chromium, processes_with

pytestmark = [needs_chromium, pytest.mark.timeout(1200)]
INTENTS = ["card_arrival", "exchange_rate", "top_up_limits", "change_pin", "atm_support"]


def intent_model(tmp: Path) -> tuple[Path, dict[str, list[str]]]:
    """A tiny BERT fine-tuned on 20 BANKING77 examples of each of five intents (seconds)."""
    from shared.data import LabelledTexts, load_banking77
    from shared.training import finetune

    train = load_banking77(REPO / "data" / "banking77")["train"]
    examples: dict[str, list[str]] = {intent: [] for intent in INTENTS}
    for text, label in zip(train.texts, train.labels):
        if label in examples and len(examples[label]) < 20:
            examples[label].append(text)
    rows = [(t, y) for y, texts in examples.items() for t in texts]
    words = {w for t, _ in rows for w in re.findall(r"\w+|[^\w\s]", t.lower())}
    base = build_tiny_bert(tmp / "intent_base", words, hidden_size=64)
    data = LabelledTexts([t for t, _ in rows], [y for _, y in rows], "BANKING77 sample")
    finetune(data, tiny_args(base, epochs=40, early_stopping_patience=8), tmp / "intent_model")
    return tmp / "intent_model", examples


def wait_for(condition, timeout_s: float, what: str, proc=None, log: Path | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"nlpsuite run exited ({proc.returncode}) while waiting for {what}:\n"
                        + (log.read_text()[-4000:] if log else ""))
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}" + (f":\n{log.read_text()[-4000:]}" if log else ""))


def test_the_whole_suite_from_a_clean_var(tmp_path):
    from recommender.model import fit

    (tmp_path / "catalogue").mkdir()
    catalogue = make_catalogue(tmp_path / "catalogue")
    encoder = build_tiny_encoder(tmp_path / "rec_bert", tmp_path / "rec_encoder", catalogue.items)
    recommender_dir = tmp_path / "recommender"
    fit(catalogue.items, catalogue.interactions, recommender_dir, tiny_fit_config(encoder))
    feed = tmp_path / "wire.xml"
    feed.write_bytes(rss(entries_for("negative", 5, "Nokia", "e2e")))
    var = tmp_path / "var"
    web_port, outbox_port, rasa_port, action_port = free_port(), free_port(), free_port(), free_port()
    intents, examples = intent_model(tmp_path)
    config = tmp_path / "nlpsuite.yml"
    config.write_text(yaml.safe_dump({
        "suite": {"var_dir": str(var), "web_port": web_port, "outbox_port": outbox_port, "threads": 1,
                  "models": {"banking77": str(intents),
                             "phrasebank": str(build_sentiment_model(tmp_path / "fin_base", tmp_path / "fin_model"))}},
        "chatbot": {"rasa_port": rasa_port, "action_port": action_port, "fallback_threshold": 0.3,
                    "classifier": {"threads": 1}},
        "finsentiment": {"feeds": [{"name": "wire", "url": str(feed)}],
                         "topics": [{"name": "Nokia", "keywords": ["Nokia"]}],
                         "alerts": {"min_items": 4}, "backend": "torch", "threads": 1,
                         "recipients": ["analyst@example.com"]},
        "recommender": {"model_dir": str(recommender_dir)},
    }))
    assert not var.exists()
    log = tmp_path / "run.log"
    with open(log, "wb") as output:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "nlpsuite"), "run", "--config", str(config)], cwd=tmp_path,
                                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{web_port}"
    effective = var / "nlpsuite.effective.yml"
    try:
        wait_for(lambda: "nlpsuite is running" in log.read_text(errors="replace"), 900, "the suite", proc, log)
        summary = log.read_text()
        for path in ("/chatbot/", "/finsentiment/", "/recommender/", "/health"):
            assert f"{base}{path}" in summary
        health = httpx.get(f"{base}/health").json()
        assert health["status"] == "ok", health

        from playwright.sync_api import expect

        with chromium_page() as page:
            page.goto(f"{base}/")
            for path in ("/chatbot/", "/finsentiment/", "/recommender/"):
                expect(page.locator(f"a[href='{path}']")).to_have_count(1)

            page.goto(f"{base}/chatbot/")
            page.fill("#text", examples["top_up_limits"][0])
            page.click("#send")
            expect(page.locator(".msg.bot").first).to_contain_text("10,000 GBP a day", timeout=60000)

            mails = wait_for(lambda: sorted((var / "outbox").glob("*.eml")), 120, "the alert mail", proc, log)
            mail = message_from_bytes(mails[0].read_bytes(), policy=policy.default)
            assert "FIRING" in mail["Subject"] and "Nokia" in mail["Subject"]
            assert mail["To"] == "analyst@example.com"
            assert "Nokia" in mail.get_body(("plain",)).get_content()

            page.goto(f"{base}/finsentiment/")
            expect(page.locator("table").first.locator("tr", has_text="Nokia")).to_contain_text("FIRING")
            expect(page.locator("table").nth(1)).to_contain_text("sent")

            user = "space-fan-0"
            unseen = next(i.id for i in catalogue.items if catalogue.topic_of_item[i.id] == "space"
                          and not any(r.user == user and r.item == i.id for r in catalogue.interactions))
            posted = httpx.post(f"{base}/recommender/interactions",
                                json={"user": user, "item": unseen, "event": "purchase"})
            assert posted.status_code == 201, posted.text
            result = httpx.get(f"{base}/recommender/recommend", params={"user": user, "k": 5}).json()
            assert len(result["items"]) == 5 and not result["cold_start"]
            assert unseen not in [e["item"] for e in result["items"]]  # just bought: never recommended again
            page.goto(f"{base}/recommender/?user={user}&k=5")
            expect(page.locator("ol li")).to_have_count(5)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = "killed"
    assert code == 0, log.read_text()[-4000:]
    assert "all services stopped" in log.read_text()
    assert processes_with(str(effective)) == []
