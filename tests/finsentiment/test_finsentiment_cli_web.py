"""The CLI commands end to end (in process, through shared.app.cli.main), the dashboard through the
suite's FastAPI app, and the demo feeds' provenance."""
from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from fin_testlib import Route, entries_for, rss
from web_testlib import TEST_TOKEN

from shared.app.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_file(tmp_path, sentiment_model, feed_server):
    feed_server.routes["/wire.xml"] = Route(rss(entries_for("negative", 5, "Nokia", "cli")
                                                + entries_for("positive", 3, "Nordea", "cli2")))
    path = tmp_path / "nlpsuite.yml"
    path.write_text(yaml.safe_dump({"finsentiment": {
        "feeds": [{"name": "wire", "url": feed_server.url("/wire.xml")}],
        "topics": [{"name": "Nokia", "keywords": ["Nokia"]}, {"name": "Banks", "keywords": ["Nordea"]}],
        "database_url": f"sqlite:///{tmp_path / 'cli.db'}", "outbox_dir": str(tmp_path / "outbox"),
        "model_dir": str(sentiment_model), "backend": "torch", "threads": 1, "alerts": {"min_items": 4},
    }}))
    return path


def test_poll_once_alerts_and_report(config_file, tmp_path, capsys):
    assert main(["finsentiment", "poll-once", "--config", str(config_file)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["new_articles"], summary["scored"], summary["alerts"], summary["sent"]) == (8, 8, 1, 1)

    assert main(["finsentiment", "alerts", "--config", str(config_file), "--json"]) == 0
    [alert] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (alert["topic"], alert["kind"], alert["status"], alert["n_items"]) == ("Nokia", "firing", "sent", 5)

    png = tmp_path / "nokia.png"
    assert main(["finsentiment", "report", "--config", str(config_file), "--topic", "nokia", "--days", "2",
                 "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Nokia: 5 articles in 2 days, 5 negative (100%)" in out and "spike: yes" in out
    assert png.read_bytes().startswith(b"\x89PNG")


def test_classify_prints_sentiment_and_topics(config_file, capsys):
    assert main(["finsentiment", "classify", "--config", str(config_file),
                 "Nokia reports heavy loss this year", "Nordea wins large contract"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["label"], r["topics"]) for r in rows] == [("negative", ["Nokia"]), ("positive", ["Banks"])]


def test_user_errors_exit_2_with_one_line(config_file, tmp_path, capsys):
    assert main(["finsentiment", "report", "--config", str(config_file), "--topic", "Tesla"]) == 2
    assert "unknown topic 'Tesla'" in capsys.readouterr().err
    bad = tmp_path / "bad.yml"
    bad.write_text("finsentiment:\n  alerts:\n    treshold: 0.5\n")
    assert main(["finsentiment", "poll-once", "--config", str(bad)]) == 2
    assert "finsentiment.alerts.treshold" in capsys.readouterr().err
    missing = tmp_path / "nomodel.yml"
    missing.write_text(yaml.safe_dump({"finsentiment": {"model_dir": str(tmp_path / "none"), "feeds": []}}))
    assert main(["finsentiment", "classify", "--config", str(missing), "hello"]) == 2
    err = capsys.readouterr().err
    assert "nlpsuite run" in err and len(err.strip().splitlines()) == 1


def test_dashboard_shows_topics_chart_and_alerts(config_file):
    from fastapi.testclient import TestClient

    from finsentiment.web import plugin
    from shared.app.web import create_app

    assert main(["finsentiment", "poll-once", "--config", str(config_file)]) == 0
    client = TestClient(create_app(plugins=[plugin(config_file)], api_token=TEST_TOKEN), base_url="http://127.0.0.1")
    page = client.get("/finsentiment/")
    assert page.status_code == 200 and "FIRING" in page.text and "chart.png?topic=Nokia" in page.text
    topics = {t["topic"]: t for t in client.get("/finsentiment/api/topics").json()}
    assert topics["Nokia"]["firing"] and topics["Nokia"]["window_items"] == 5 and not topics["Banks"]["firing"]
    chart = client.get("/finsentiment/chart.png", params={"topic": "Nokia", "days": 3})
    assert chart.headers["content-type"] == "image/png" and chart.content.startswith(b"\x89PNG")
    assert client.get("/finsentiment/chart.png", params={"topic": "nope"}).status_code == 404
    assert [a["topic"] for a in client.get("/finsentiment/api/alerts").json()] == ["Nokia"]
    assert client.get("/health").json()["products"]["finsentiment"]["status"] == "ok"


def test_demo_story_holds_every_phrasebank_test_sentence_once_and_nothing_else():
    from finsentiment.demo import load_story

    split = {int(row["id"]): row["split"] for row in csv.DictReader(open(REPO / "data/financial_phrasebank/split.csv"))}
    story = load_story()
    guids = [int(item.guid.removeprefix("phrasebank-")) for item in story]
    assert len(guids) == sum(1 for s in split.values() if s == "test") == len(set(guids))
    assert {split[g] for g in guids} == {"test"}
    assert {item.phase for item in story} == {"history", "spike", "resolve"}


def test_demo_feeds_are_dated_from_the_first_run_and_the_resolution_comes_on_request(tmp_path):
    from email.utils import parsedate_to_datetime

    from finsentiment.config import FinSentimentConfig, demo_feeds
    from finsentiment.demo import ensure_demo_feeds, load_story, release_resolution

    config = FinSentimentConfig(demo_dir=str(tmp_path / "demo"), feeds=demo_feeds(tmp_path / "demo"))
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def dated() -> dict[str, datetime]:
        out = {}
        for feed in config.feeds:
            text = Path(feed.url).read_text(encoding="utf-8")
            for guid, date in re.findall(r"<guid[^>]*>([^<]+)</guid>\s*<pubDate>([^<]+)</pubDate>", text):
                out[guid] = parsedate_to_datetime(date)
        return out

    assert ensure_demo_feeds(config, start)
    first = dated()
    story = {item.guid: item for item in load_story()}
    assert {story[g].phase for g in first} == {"history", "spike"}
    assert all(when == start + timedelta(minutes=story[g].minutes) for g, when in first.items())
    assert max(first.values()) <= start and min(first.values()) >= start - timedelta(days=7)
    assert not ensure_demo_feeds(config, start + timedelta(hours=5))  # a second run keeps the dates
    assert dated() == first
    released = start + timedelta(hours=1)
    release_resolution(config, released)
    later = dated()
    resolved = {g for g in later if story[g].phase == "resolve"}
    assert resolved and all(later[g] == released for g in resolved)
    assert {g: later[g] for g in first} == first
    other = FinSentimentConfig(demo_dir=str(tmp_path / "demo2"), feeds=[{"name": "x", "url": str(tmp_path / "x.xml")}])
    assert not ensure_demo_feeds(other) and release_resolution(other) == []


def test_default_config_points_at_the_demo_feeds_and_the_quickstart_model():
    from finsentiment.config import FinSentimentConfig

    config = FinSentimentConfig()
    assert len(config.feeds) == 4 and all(Path(f.url).parent == Path(config.demo_dir) for f in config.feeds)
    assert config.model_dir.endswith("var/models/phrasebank") and config.notifier == "outbox"  # a versions folder
