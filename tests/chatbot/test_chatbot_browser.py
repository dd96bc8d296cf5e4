"""End to end in headless Chromium: type into the suite's chat page, read the bot's answer."""
from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest
import yaml

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (make setup)")


@pytest.fixture()
def web_app(chatbot, servers, tmp_path):
    """The suite web app with the chatbot plugin, on a free loopback port, pointed at the test Rasa."""
    import uvicorn
    from chatbot import server
    from chatbot.web import plugin
    from shared.web import create_app

    config = yaml.safe_load(chatbot.config_file.read_text())
    config["chatbot"]["rasa_url"] = servers.rasa
    (tmp_path / "nlpsuite.yml").write_text(yaml.safe_dump(config))
    app = create_app(plugins=[plugin(tmp_path / "nlpsuite.yml")])
    port = server.free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not web.started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"http://127.0.0.1:{port}/health").json()["products"]["chatbot"]["status"] == "ok"
    yield f"http://127.0.0.1:{port}"
    web.should_exit = True
    thread.join(10)


def test_typing_into_the_chat_page_gets_the_bots_answer(chatbot, web_app):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.goto(f"{web_app}/chatbot/")
            page.fill("#text", chatbot.examples["top_up_limits"][0])
            page.click("#send")
            expect(page.locator(".msg.bot").first).to_contain_text("10,000 GBP a day", timeout=30000)
            # an unreadable message gets the offer of a person; clicking the button hands over
            page.fill("#text", "🙈🙈")
            page.press("#text", "Enter")
            button = page.get_by_role("button", name="Talk to a person")
            expect(button).to_be_visible(timeout=30000)
            button.click()
            expect(page.locator(".msg.bot").last).to_contain_text("ticket T-", timeout=30000)
            assert page.locator(".msg.user").count() == 3
        finally:
            browser.close()
