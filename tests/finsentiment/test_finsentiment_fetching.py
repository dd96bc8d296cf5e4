"""Fetching over a real local HTTP server: valid RSS and Atom, malformed, slow, 304 Not Modified,
HTTP errors; and polling that stores each article once and keeps going past broken feeds."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fin_testlib import FeedEntry, Route, atom, entries_for, rss
from finsentiment.fetching import FeedError, FileFetcher, HttpFeedFetcher, RawFeed, parse_feed
from finsentiment.monitor import Monitor
from finsentiment.store import Article, Feed, Score, TopicAssignment

MALFORMED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><item><title>broken & bad</item></channel>"


def test_http_fetch_sends_validators_and_gets_304(feed_server):
    feed_server.routes["/wire.xml"] = Route(rss(entries_for("neutral", 3, "Nokia", "w")), etag='"v1"',
                                            last_modified="Tue, 02 Jan 2024 10:00:00 GMT")
    fetcher = HttpFeedFetcher()
    first = fetcher.fetch(feed_server.url("/wire.xml"), timeout=5)
    assert first.status == 200 and first.etag == '"v1"' and len(parse_feed(first)) == 3
    second = fetcher.fetch(feed_server.url("/wire.xml"), etag=first.etag, modified=first.modified, timeout=5)
    assert second.not_modified and second.status == 304
    headers = feed_server.log[-1][2]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Tue, 02 Jan 2024 10:00:00 GMT"


def test_http_errors_and_timeouts_are_feed_errors(feed_server):
    feed_server.routes["/slow.xml"] = Route(rss(entries_for("neutral", 1, "Nokia", "s")), delay_s=2.0)
    fetcher = HttpFeedFetcher()
    with pytest.raises(FeedError, match="timed out"):
        fetcher.fetch(feed_server.url("/slow.xml"), timeout=0.3)
    with pytest.raises(FeedError, match="HTTP 404"):
        fetcher.fetch(feed_server.url("/missing.xml"), timeout=2)


def test_malformed_feed_is_an_error_and_atom_parses():
    with pytest.raises(FeedError, match="malformed"):
        parse_feed(RawFeed("http://x/bad.xml", MALFORMED))
    with pytest.raises(FeedError):
        parse_feed(RawFeed("http://x/page.html", b"<html><body>not a feed</body></html>"))
    items = parse_feed(RawFeed("http://x/atom.xml", atom([FeedEntry("Nokia wins deal", "http://n/1", "urn:1")])))
    assert [(i.title, i.link, i.guid) for i in items] == [("Nokia wins deal", "http://n/1", "urn:1")]
    assert items[0].published is not None


def test_file_fetcher_treats_an_unchanged_file_as_not_modified(tmp_path):
    path = tmp_path / "local.xml"
    path.write_bytes(rss(entries_for("neutral", 2, "Nokia", "f")))
    fetcher = FileFetcher()
    first = fetcher.fetch(str(path))
    assert len(parse_feed(first)) == 2
    assert fetcher.fetch(path.as_uri(), etag=first.etag).not_modified
    path.write_bytes(rss(entries_for("neutral", 3, "Nokia", "f")))
    assert len(parse_feed(fetcher.fetch(str(path), etag=first.etag))) == 3
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
