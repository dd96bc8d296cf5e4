"""Fetching over a real local HTTP server: valid RSS and Atom, malformed, slow, 304 Not Modified,
HTTP errors; and polling that stores each article once and keeps going past broken feeds."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from fin_testlib import FeedEntry, Route, atom, entries_for, rss
from finsentiment.fetching import FeedError, FetchLimits, FileFetcher, HttpFeedFetcher, RawFeed, parse_feed
from finsentiment.monitor import Monitor
from finsentiment.store import Article, Feed, Score, TopicAssignment

MALFORMED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><item><title>broken & bad</item></channel>"


def test_http_fetch_sends_validators_and_gets_304(feed_server):
    feed_server.routes["/wire.xml"] = Route(rss(entries_for("neutral", 3, "Nokia", "w")), etag='"v1"',
                                            last_modified="Tue, 02 Jan 2024 10:00:00 GMT")
    fetcher = HttpFeedFetcher()
    first = fetcher.fetch(feed_server.url("/wire.xml"), limits=FetchLimits(timeout_s=5))
    assert first.status == 200 and first.etag == '"v1"' and len(parse_feed(first).items) == 3
    second = fetcher.fetch(feed_server.url("/wire.xml"), etag=first.etag, modified=first.modified,
                           limits=FetchLimits(timeout_s=5))
    assert second.not_modified and second.status == 304
    headers = feed_server.log[-1][2]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Tue, 02 Jan 2024 10:00:00 GMT"


def test_http_errors_and_timeouts_are_feed_errors(feed_server):
    feed_server.routes["/slow.xml"] = Route(rss(entries_for("neutral", 1, "Nokia", "s")), delay_s=2.0)
    fetcher = HttpFeedFetcher()
    with pytest.raises(FeedError, match="timed out"):
        fetcher.fetch(feed_server.url("/slow.xml"), limits=FetchLimits(timeout_s=0.3))
    with pytest.raises(FeedError, match="HTTP 404"):
        fetcher.fetch(feed_server.url("/missing.xml"), limits=FetchLimits(timeout_s=2))


def test_malformed_feed_is_an_error_and_atom_parses():
    with pytest.raises(FeedError, match="malformed"):
        parse_feed(RawFeed("http://x/bad.xml", MALFORMED))
    with pytest.raises(FeedError):
        parse_feed(RawFeed("http://x/page.html", b"<html><body>not a feed</body></html>"))
    items = parse_feed(RawFeed("http://x/atom.xml", atom([FeedEntry("Nokia wins deal", "http://n/1", "urn:1")]))).items
    assert [(i.title, i.link, i.guid) for i in items] == [("Nokia wins deal", "http://n/1", "urn:1")]
    assert items[0].published is not None


def test_file_fetcher_treats_an_unchanged_file_as_not_modified(tmp_path):
    path = tmp_path / "local.xml"
    path.write_bytes(rss(entries_for("neutral", 2, "Nokia", "f")))
    fetcher = FileFetcher()
    first = fetcher.fetch(str(path))
    assert len(parse_feed(first).items) == 2
    assert fetcher.fetch(path.as_uri(), etag=first.etag).not_modified
    path.write_bytes(rss(entries_for("neutral", 3, "Nokia", "f")))
    assert len(parse_feed(fetcher.fetch(str(path), etag=first.etag)).items) == 3
    with pytest.raises(FeedError, match="cannot read"):
        fetcher.fetch(str(tmp_path / "gone.xml"))


def test_poll_skips_bad_feeds_counts_errors_and_adds_no_duplicates(feed_server, make_config, loaded_sentiment):
    good = entries_for("negative", 4, "Nokia", "good") + entries_for("positive", 2, "Nordea", "good2")
    feed_server.routes["/good.xml"] = Route(rss(good), etag='"g1"')
    feed_server.routes["/atom.xml"] = Route(atom(entries_for("neutral", 3, "Kone", "atom")), content_type="application/atom+xml")
    feed_server.routes["/bad.xml"] = Route(MALFORMED)
    feed_server.routes["/slow.xml"] = Route(rss(entries_for("neutral", 2, "Kone", "slow")), delay_s=2.0)
    config = make_config(feeds=[
        {"name": "good", "url": feed_server.url("/good.xml")},
        {"name": "atom", "url": feed_server.url("/atom.xml")},
        {"name": "bad", "url": feed_server.url("/bad.xml")},
        {"name": "slow", "url": feed_server.url("/slow.xml"), "timeout_s": 0.3},
        {"name": "gone", "url": feed_server.url("/gone.xml")},
    ])
    monitor = Monitor(config, sentiment=loaded_sentiment)
    first = monitor.poll_once()
    assert (first.feeds_ok, first.feeds_failed, first.new_articles, first.scored) == (2, 3, 9, 9)
    assert any("malformed" in e for e in first.errors) and any("timed out" in e for e in first.errors)

    # Same content again: the good feed answers 304, the Atom feed repeats its items; nothing new.
    second = monitor.poll_once()
    assert second.new_articles == 0 and second.scored == 0
    assert second.feeds_not_modified == 1 and second.feeds_failed == 3
    assert feed_server.statuses("/good.xml") == [200, 304]

    # One new item among the old ones: exactly one article more.
    feed_server.routes["/good.xml"] = Route(rss(good + [FeedEntry("Nokia names new auditor", "http://n/new", "new-1")]), etag='"g2"')
    third = monitor.poll_once()
    assert third.new_articles == 1

    with monitor.store.session() as s:
        assert s.query(Article).count() == 10 and s.query(Score).count() == 10
        feeds = {f.name: f for f in s.execute(select(Feed)).scalars()}
        assert feeds["bad"].error_count == 3 and feeds["bad"].consecutive_errors == 3
        assert feeds["good"].error_count == 0 and feeds["good"].etag == '"g2"'
        assert "malformed" in feeds["bad"].last_error
        nokia = s.query(TopicAssignment).filter_by(topic="Nokia").count()
        assert nokia == 5  # the four negative Nokia items and the new one


def test_articles_left_unscored_by_a_crash_are_scored_next_time(feed_server, make_config, loaded_sentiment):
    feed_server.routes["/wire.xml"] = Route(rss(entries_for("negative", 5, "Nokia", "c")))
    config = make_config(feeds=[{"name": "wire", "url": feed_server.url("/wire.xml")}])

    class Crash(Exception):
        pass

    class CrashingModel:
        version, labels = "crash", ["negative", "neutral", "positive"]

        def classify(self, texts):
            raise Crash("killed between fetching and scoring")

    crashing = Monitor(config, sentiment=CrashingModel())
    with pytest.raises(Crash):
        crashing.poll_once()
    assert crashing.store.counts()["articles"] == 5 and crashing.store.counts()["scores"] == 0

    report = Monitor(config, sentiment=loaded_sentiment).poll_once()
    assert report.new_articles == 0 and report.scored == 5
    with crashing.store.session() as s:
        assert {sc.model_version for sc in s.query(Score)} == {loaded_sentiment.version}
        assert all(abs(sum(sc.probs.values()) - 1) < 1e-5 for sc in s.query(Score))


MALFORMED_CORPUS = sorted((Path(__file__).parent / "malformed_feeds").glob("*.xml"))


@pytest.mark.parametrize("path", MALFORMED_CORPUS, ids=lambda p: p.stem)
def test_sloppy_real_world_feeds_are_read_and_marked_degraded(path):
    """Hand-assembled from what real feeds get wrong (see malformed_feeds/README.md)."""
    parsed = parse_feed(RawFeed(path.as_uri(), path.read_bytes()))
    titles = [item.title for item in parsed.items]
    assert "Nordea profit beats forecasts" in titles and len(titles) == 2, titles
    assert all(not any(ord(c) < 32 for c in t) for t in titles)  # control characters dropped
    well_formed = path.stem in ("mismatched-tags", "wrong-declared-encoding")  # sloppy, but parse cleanly
    assert (parsed.problem is None) == well_formed, parsed.problem
    if parsed.problem:
        assert "not well-formed" in parsed.problem and "2 items read" in parsed.problem


@pytest.mark.parametrize("name", ["entity-expansion.xml", "external-entity.xml"])
def test_declared_xml_entities_are_refused(name):
    body = (Path(__file__).parent / name).read_bytes()
    with pytest.raises(FeedError, match="entity expansion"):
        parse_feed(RawFeed("http://x/" + name, body))


def test_a_degraded_feed_is_polled_shown_and_summarised(feed_server, make_config, loaded_sentiment):
    from fastapi.testclient import TestClient

    from finsentiment.web import plugin
    from shared.app.web import create_app

    sloppy = (Path(__file__).parent / "malformed_feeds" / "html-entities.xml").read_bytes()
    feed_server.routes["/sloppy.xml"] = Route(sloppy)
    config = make_config(feeds=[{"name": "sloppy", "url": feed_server.url("/sloppy.xml")}])
    report = Monitor(config, sentiment=loaded_sentiment).poll_once()
    assert (report.feeds_ok, report.feeds_degraded, report.new_articles) == (1, 1, 2)
    assert "undefined entity" in report.degraded[0]
    config_file = Path(config.outbox_dir).parent / "nlpsuite.yml"
    config_file.write_text(yaml.safe_dump({"finsentiment": json.loads(config.json())}))
    web = TestClient(create_app(plugins=[plugin(config_file)], api_token="t" * 32), base_url="http://127.0.0.1")
    [feed] = web.get("/finsentiment/api/feeds").json()
    assert feed["state"] == "degraded" and "undefined entity" in feed["reason"]
    assert "Feeds that need a look" in web.get("/finsentiment/").text


def test_hostile_servers_cost_a_bounded_download(feed_server):
    import gzip

    bomb = gzip.compress(b" " * (64 * 1024 * 1024))  # 64 MiB of spaces in about 64 KiB
    feed_server.routes["/bomb.xml"] = Route(bomb, encoding="gzip")
    feed_server.routes["/huge.xml"] = Route(b"<rss>" + b" " * (2 * 1024 * 1024), length=False)
    feed_server.routes["/trickle.xml"] = Route(rss(entries_for("neutral", 20, "Nokia", "t")), trickle_s=0.2)
    feed_server.routes["/zipped.xml"] = Route(gzip.compress(rss(entries_for("neutral", 3, "Nokia", "z"))),
                                              encoding="gzip")
    fetcher, limits = HttpFeedFetcher(), FetchLimits(timeout_s=5, deadline_s=1.0, max_bytes=1024 * 1024)
    with pytest.raises(FeedError, match="over the 1,048,576-byte limit"):
        fetcher.fetch(feed_server.url("/bomb.xml"), limits=limits)
    with pytest.raises(FeedError, match="over the 1,048,576-byte limit"):
        fetcher.fetch(feed_server.url("/huge.xml"), limits=limits)
    started = time.monotonic()
    with pytest.raises(FeedError, match="took over 1 s"):
        fetcher.fetch(feed_server.url("/trickle.xml"), limits=limits)
    assert time.monotonic() - started < 1.0 + 5  # the deadline, plus at most one read's timeout
    assert len(parse_feed(fetcher.fetch(feed_server.url("/zipped.xml"), limits=limits)).items) == 3


def test_one_slow_feed_does_not_hold_up_the_others(feed_server, make_config, loaded_sentiment):
    feed_server.routes["/fast.xml"] = Route(rss(entries_for("neutral", 3, "Nokia", "fast")))
    feed_server.routes["/trickle.xml"] = Route(rss(entries_for("neutral", 30, "Kone", "slow")), trickle_s=0.3)
    config = make_config(feeds=[{"name": "fast", "url": feed_server.url("/fast.xml")},
                                {"name": "trickle", "url": feed_server.url("/trickle.xml"), "deadline_s": 1.5}])
    started = time.monotonic()
    report = Monitor(config, sentiment=loaded_sentiment).poll_once()
    assert report.new_articles == 3 and report.feeds_failed == 1 and "took over 1.5 s" in report.errors[0]
    assert time.monotonic() - started < 15  # bounded by the deadline (plus a read), not the trickle (27 s)
