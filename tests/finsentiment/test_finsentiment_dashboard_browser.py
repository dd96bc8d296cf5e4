"""The dashboard in headless Chromium, served by a real uvicorn from the database a poll filled:
the firing topic is marked, its trend chart is a rendered image, another topic's chart is one
click away, and the alert is listed. Headlines are untrusted: a script in one never runs."""
from __future__ import annotations

import yaml
from fin_testlib import FeedEntry, Route, entries_for, rss
from web_testlib import TEST_TOKEN, chromium_page, needs_chromium, serve_app

from shared.app.cli import main

pytestmark = needs_chromium
EVIL_TOPIC = "Nokia <img src=x onerror=window.pwned=1>"
CHART_DECODED = """() => { const img = document.querySelector("img[alt='trend chart']");
                           return img !== null && img.complete && img.naturalWidth > 200; }"""


def test_dashboard_in_a_browser(tmp_path, sentiment_model, feed_server):
    from playwright.sync_api import expect

    from finsentiment.web import plugin
    from shared.app.web import create_app

    feed_server.routes["/wire.xml"] = Route(rss(
        entries_for("negative", 5, "Nokia", "web") + entries_for("positive", 3, "Nordea", "web2")
        + [FeedEntry("<script>window.pwned=1</script> Nokia shares plunge", "http://news.example/x", "x")]))
    config_file = tmp_path / "nlpsuite.yml"
    config_file.write_text(yaml.safe_dump({"finsentiment": {
        "feeds": [{"name": "wire", "url": feed_server.url("/wire.xml")}],
        "topics": [{"name": "Nokia", "keywords": ["Nokia"]}, {"name": "Banks", "keywords": ["Nordea"]},
                   {"name": EVIL_TOPIC, "keywords": ["nothing-matches-this"]}],
        "database_url": f"sqlite:///{tmp_path / 'web.db'}", "outbox_dir": str(tmp_path / "outbox"),
        "model_dir": str(sentiment_model), "backend": "torch", "threads": 1, "alerts": {"min_items": 4},
    }}))
    assert main(["finsentiment", "poll-once", "--config", str(config_file)]) == 0

    with serve_app(create_app(plugins=[plugin(config_file)], api_token=TEST_TOKEN)) as base, chromium_page() as page:
        page.goto(f"{base}/finsentiment/")
        rows = page.locator("table").first.locator("tr")
        nokia = rows.filter(has_text="Nokia").first
        expect(nokia).to_contain_text("FIRING")
        expect(rows.filter(has_text="Banks")).to_contain_text("ok")
        chart = page.get_by_alt_text("trend chart")
        expect(chart).to_be_visible()
        page.wait_for_function(CHART_DECODED, timeout=30000)  # a decoded PNG, not a broken-image icon
        assert "topic=Nokia" in chart.get_attribute("src")
        expect(page.locator("table").nth(1)).to_contain_text("Nokia")  # the alert
        assert page.locator("table").nth(1).locator("tr").count() == 2

        page.get_by_role("link", name="Banks", exact=True).click()
        expect(page.locator("h2").first).to_contain_text("Banks")
        chart = page.get_by_alt_text("trend chart")
        assert "topic=Banks" in chart.get_attribute("src")
        page.wait_for_function(CHART_DECODED, timeout=30000)

        # the hostile topic name is shown as text, and no injected script ran
        expect(page.get_by_role("link", name=EVIL_TOPIC)).to_be_visible()
        assert page.evaluate("() => window.pwned") is None
