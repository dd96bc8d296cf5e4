"""End to end in headless Chromium: type into the suite's chat page, read the bot's answer."""
from __future__ import annotations

import httpx
import pytest
import yaml
from web_testlib import TEST_TOKEN, chromium_page, needs_chromium, serve_app

pytestmark = needs_chromium


@pytest.fixture()
def web_app(chatbot, servers, tmp_path):
    """The suite web app with the chatbot plugin, on a free loopback port, pointed at the test Rasa."""
    from chatbot.web import plugin
    from shared.app.web import create_app

    config = yaml.safe_load(chatbot.config_file.read_text())
    config["chatbot"]["rasa_url"] = servers.rasa
    config["suite"] = {"var_dir": str(tmp_path / "var")}  # no API token here, as the test Rasa has none
    (tmp_path / "nlpsuite.yml").write_text(yaml.safe_dump(config))
    with serve_app(create_app(plugins=[plugin(tmp_path / "nlpsuite.yml")], api_token=TEST_TOKEN)) as base:
        assert httpx.get(f"{base}/health").json()["products"]["chatbot"]["status"] == "ok"
        yield base


def test_typing_into_the_chat_page_gets_the_bots_answer(chatbot, web_app):
    from playwright.sync_api import expect

    with chromium_page() as page:
        page.goto(f"{web_app}/chatbot/")
        page.fill("#text", chatbot.examples["top_up_limits"][0])
        page.click("#send")
        expect(page.locator(".msg.bot").first).to_contain_text("10,000 GBP a day", timeout=30000)
        # an unreadable message is to be rephrased; a second one gets the offer of a person,
        # and clicking the button hands over
        page.fill("#text", "🙈🙈")
        page.press("#text", "Enter")
        expect(page.locator(".msg.bot").last).to_contain_text("say it another way", timeout=30000)
        page.fill("#text", "🙈🙈🙈")
        page.press("#text", "Enter")
        button = page.get_by_role("button", name="Talk to a person")
        expect(button).to_be_visible(timeout=30000)
        button.click()
        expect(page.locator(".msg.bot", has_text="ticket T-")).to_have_count(1, timeout=30000)
        assert page.locator(".msg.user").count() == 4


def test_a_demo_customer_signs_in_on_the_chat_page_and_needs_no_code(chatbot, web_app):
    from playwright.sync_api import expect

    with chromium_page() as page:
        page.goto(f"{web_app}/chatbot/")
        page.click("#signin-box summary")
        page.fill("#customer", "C1001")
        page.fill("#password", "wrong-password")
        page.click("#signin button")
        expect(page.locator("#signin-status")).to_contain_text("wrong customer number or password")
        page.fill("#password", "harbor-ada")
        page.click("#signin button")
        expect(page.locator("#signin-status")).to_contain_text("Signed in as Ada Lovelace")
        page.fill("#text", chatbot.examples["card_arrival"][0])
        page.press("#text", "Enter")
        expect(page.locator(".msg.bot").last).to_contain_text("customer number", timeout=30000)
        page.fill("#text", "C1001")
        page.press("#text", "Enter")
        expect(page.locator(".msg.bot", has_text="is on its way")).to_have_count(1, timeout=30000)
        expect(page.locator(".msg.bot", has_text="6-digit code")).to_have_count(0)  # signed in: no code asked
