"""`nlpsuite run` end to end: the whole suite from a clean var/ folder, driven like a user.

The classifiers are the ones a first `make run` serves (the probe recipe's intent and sentiment
models in versions folders, trained once per machine by tests/models_testlib.py); a tiny fitted recommender stands in
for the MovieLens one. Every server is real: the mail outbox (SMTP), the action server, `rasa
run`, the web app and the monitor's scheduler. The monitor reads the default demo story (no
crafted feed): its FIRING mail must land in var/outbox within 3 minutes of "nlpsuite is
running", and `demo-resolve` must bring the RESOLVED mail. Headless Chromium opens each page and
chats; an interaction is posted and recommendations come back; Ctrl-C (SIGINT) stops everything
and no process is left.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
import yaml

from rec_testlib import build_tiny_encoder, make_catalogue, tiny_fit_config
from web_testlib import (chromium_page, free_port, latest_code, needs_chromium, processes_with,
                          status_of_headers_only, wait_for)

pytestmark = [needs_chromium, pytest.mark.slow, pytest.mark.timeout(1800)]
DEMO_TOPIC = "Earnings"  # the topic data/feeds/story.csv spikes


def _mails(var: Path) -> list:
    """The monitor's alert mails in the outbox (the bot's chat codes land there too)."""
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted((var / "outbox").glob("*.eml"))]
    return [m for m in mails if str(m["Subject"]).startswith("[finsentiment]")]


def test_the_whole_suite_from_a_clean_var(tmp_path, quick_intents, quick_sentiment):
    from recommender.model import fit

    (tmp_path / "catalogue").mkdir()
    catalogue = make_catalogue(tmp_path / "catalogue")
    encoder = build_tiny_encoder(tmp_path / "rec_bert", tmp_path / "rec_encoder", catalogue.items)
    recommender_dir = tmp_path / "recommender"
    fit(catalogue.items, catalogue.interactions, recommender_dir, tiny_fit_config(encoder))
    var = tmp_path / "var"
    web_port, outbox_port, rasa_port, action_port = free_port(), free_port(), free_port(), free_port()
    config = tmp_path / "nlpsuite.yml"
    config.write_text(yaml.safe_dump({
        "suite": {"var_dir": str(var), "web_port": web_port, "outbox_port": outbox_port, "threads": 1,
                  "models": {"intents": str(quick_intents), "phrasebank": str(quick_sentiment)}},
        "chatbot": {"rasa_port": rasa_port, "action_port": action_port, "classifier": {"threads": 1}},
        "finsentiment": {"threads": 1, "poll_interval_s": 15, "recipients": ["analyst@example.com"]},
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
        running = time.monotonic()
        summary = log.read_text()
        assert "step 1 of" in summary and "start the servers" in summary
        for path in ("/chatbot/", "/finsentiment/", "/recommender/", "/health"):
            assert f"{base}{path}" in summary
        health = httpx.get(f"{base}/health").json()
        assert health["status"] == "ok", health
        # which version serves each classifier: on /health, the home page and `nlpsuite models status`
        assert {name: row["recipe"] for name, row in health["models"].items()} == {"intents": "probe",
                                                                                   "phrasebank": "probe"}
        assert health["models"]["intents"]["test"]["accuracy"] > 0.85
        assert "model: intents" in summary and "probe version" in summary
        status = subprocess.run([str(Path(sys.executable).parent / "nlpsuite"), "models", "status", "--config",
                                 str(effective)], capture_output=True, text=True, timeout=120)
        assert status.returncode == 0 and "intents: probe version" in status.stderr, status.stderr

        # one API token, made for the user: 0600, printed by `nlpsuite token`, in no log or config
        printed = subprocess.run([str(Path(sys.executable).parent / "nlpsuite"), "token", "--config", str(effective)],
                                 capture_output=True, text=True, timeout=120)
        assert printed.returncode == 0, printed.stderr
        token = printed.stdout.strip()
        assert (var / "secrets" / "api-token").stat().st_mode & 0o777 == 0o600
        assert token not in effective.read_text() and token not in log.read_text()
        assert all(token not in p.read_text(errors="replace") for p in (var / "logs").glob("*.log"))
        rasa = summary.split("Rasa REST webhook", 1)[1].split()[0].rsplit("/webhooks", 1)[0]
        assert httpx.get(f"{rasa}/conversations/anyone/tracker").status_code == 401  # Rasa's API: token only
        assert httpx.get(f"{rasa}/conversations/anyone/tracker", params={"token": token}).status_code == 200
        actions = f"http://127.0.0.1:{action_port}"
        assert httpx.get(f"{actions}/health").status_code == 200  # the readiness probe stays open
        assert httpx.post(f"{actions}/webhook", json={"next_action": "action_card_control"}).status_code == 401
        assert httpx.post(f"{actions}/webhook", params={"token": "é"}, json={}).status_code == 401  # not a 500
        assert status_of_headers_only(f"{actions}/webhook", 2 * 1024 * 1024) == 401  # the token, before the body
        assert status_of_headers_only(f"{actions}/webhook?token={token}", 2 * 1024 * 1024) == 413  # then its size
        assert status_of_headers_only(f"{base}/chatbot/webhook", 2 * 1024 * 1024) == 413
        assert httpx.get(f"{base}/health", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding
        assert httpx.post(f"{base}/chatbot/webhook", content=b'{"sender": "s", "message": "hi"}',
                          headers={"content-type": "text/plain"}).status_code == 415  # a cross-site form post
        assert "access-control-allow-origin" not in httpx.get(f"{actions}/health").headers
        # ... and Rasa, which sends the token, still runs the actions (the form's validation, the look-up)
        from chatbot.senders import request_sender

        webhook, sender = f"{rasa}/webhooks/rest/webhook", request_sender(rasa)
        assert httpx.post(webhook, json={"sender": "e2e-guess", "message": "hi"}).status_code == 403  # not issued
        httpx.post(webhook, json={"sender": sender, "message": "my card still hasn't arrived"}, timeout=60)
        asked = httpx.post(webhook, json={"sender": sender, "message": "C1001"}, timeout=60).json()
        assert not any("is on its way" in r.get("text", "") for r in asked), asked  # not before the code
        code = latest_code(var / "outbox", "ada@example.com")  # the code lands in the suite's outbox
        status = httpx.post(webhook, json={"sender": sender, "message": code}, timeout=60).json()
        assert any("is on its way" in r.get("text", "") for r in status), status

        from playwright.sync_api import expect

        with chromium_page() as page:
            page.goto(f"{base}/")
            expect(page.locator("main .card", has_text="Models")).to_contain_text("intents: probe version")
            for path in ("/chatbot/", "/finsentiment/", "/recommender/"):
                expect(page.locator(f"main a[href='{path}']")).to_have_count(1)  # the product's card
                expect(page.locator(f"header nav a[href='{path}']")).to_have_count(1)  # the shared header

            page.goto(f"{base}/chatbot/")
            page.fill("#text", "hello there")
            page.click("#send")
            expect(page.locator(".msg.bot").first).to_contain_text("Harbor Bank assistant", timeout=60000)
            page.fill("#text", "How much can I top up in one day?")
            page.click("#send")
            expect(page.locator(".msg.bot").nth(1)).to_contain_text("10,000 GBP a day", timeout=60000)

            page.goto(f"{base}/recommender/?user=space-fan-4&k=3")  # an operator tool: sign in first
            page.click("a[href^='/signin']")
            page.fill("#token", token)
            page.click("#signin button")
            expect(page.locator("ol.recs li")).to_have_count(3, timeout=30000)
            expect(page.locator("ol.recs")).to_contain_text("because you liked")

            mails = wait_for(lambda: _mails(var), 180 - (time.monotonic() - running), "the demo's alert mail",
                             proc, log)
            assert "FIRING" in mails[0]["Subject"] and DEMO_TOPIC in mails[0]["Subject"], mails[0]["Subject"]
            assert mails[0]["To"] == "analyst@example.com"
            assert DEMO_TOPIC in mails[0].get_body(("plain",)).get_content()
            assert any(part.get_content_type() == "image/png" for part in mails[0].walk())  # the trend chart

            page.goto(f"{base}/finsentiment/")
            expect(page.locator("table").first.locator("tr", has_text=DEMO_TOPIC)).to_contain_text("FIRING")
            expect(page.locator("table").nth(1)).to_contain_text("sent")
            resolve = subprocess.run([str(Path(sys.executable).parent / "nlpsuite"), "finsentiment", "demo-resolve",
                                      "--config", str(effective)], capture_output=True, text=True, timeout=120)
            assert resolve.returncode == 0, resolve.stderr
            resolved = wait_for(lambda: [m for m in _mails(var) if "RESOLVED" in m["Subject"]], 120,
                                "the RESOLVED mail", proc, log)
            assert DEMO_TOPIC in resolved[0]["Subject"]

            user = "space-fan-0"
            unseen = next(i.id for i in catalogue.items if catalogue.topic_of_item[i.id] == "space"
                          and not any(r.user == user and r.item == i.id for r in catalogue.interactions))
            refused = httpx.post(f"{base}/recommender/interactions",
                                 json={"user": user, "item": unseen, "event": "purchase"})
            assert refused.status_code == 401, refused.text
            posted = httpx.post(f"{base}/recommender/interactions", headers={"Authorization": f"Bearer {token}"},
                                json={"user": user, "item": unseen, "event": "purchase"})
            assert posted.status_code == 201, posted.text
            assert httpx.get(f"{base}/recommender/recommend", params={"user": user}).status_code == 401  # private
            result = httpx.get(f"{base}/recommender/recommend", params={"user": user, "k": 5},
                               headers={"Authorization": f"Bearer {token}"}).json()
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
