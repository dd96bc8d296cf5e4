"""One poll cycle: fetch every feed, store new articles, score what is unscored, evaluate
alerts, deliver pending mails. Each step commits its own work, so a crash in any step loses
nothing: the next cycle picks up unscored articles and unsent alerts.
"""
from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Optional

from finsentiment.alerts import evaluate_alerts
from finsentiment.classify import SentimentModel, TopicMatcher, build_topic_matcher
from finsentiment.config import FeedConfig, FinSentimentConfig
from finsentiment.fetching import FeedError, Fetcher, SchemeFetcher, parse_feed
from finsentiment.notify import Notifier, build_notifier, deliver_pending
from finsentiment.store import Score, Store, TopicAssignment, utcnow

logger = logging.getLogger(__name__)

SCORE_BATCH = 256


@dataclass
class PollReport:
    """What one poll cycle did, step by step: printed as JSON by poll-once and logged after every cycle;
    ``errors`` and ``degraded`` name the feeds that failed or were read with the lenient parser."""

    feeds_ok: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    feeds_degraded: int = 0
    """Read, but not well-formed: their items were taken with the lenient parser (``degraded``)."""
    new_articles: int = 0
    scored: int = 0
    alerts: int = 0
    sent: int = 0
    send_failed: int = 0
    errors: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class Monitor:
    """Wires config, store, fetcher, classifiers and notifier; every part can be swapped in tests."""

    def __init__(self, config: FinSentimentConfig, *, fetcher: Optional[Fetcher] = None,
                 notifier: Optional[Notifier] = None, sentiment: Optional[SentimentModel] = None,
                 topics: Optional[TopicMatcher] = None, store: Optional[Store] = None,
                 clock: Callable[[], datetime] = utcnow):
        self.config = config
        self.store = store or Store(config.database_url)
        self.fetcher = fetcher or SchemeFetcher()
        self.notifier = notifier or build_notifier(config)
        self._sentiment = sentiment
        self._live = None
        """Follows the model folder's versions (``shared.model_versions``): a better sentiment
        model trained while the monitor runs is picked up by the next cycle, no restart."""
        self._topics = topics
        self.clock = clock

    @property
    def sentiment(self) -> SentimentModel:
        if self._sentiment is not None:
            return self._sentiment
        if self._live is None:  # loaded lazily: `alerts` and `report` need no model
            from shared.model_versions import LiveModel

            c = self.config
            self._live = LiveModel(c.model_dir, lambda folder: SentimentModel(folder, c.backend, c.threads,
                                                                                c.batch_size))
        return self._live.get()

    @property
    def topics(self) -> TopicMatcher:
        if self._topics is None:
            self._topics = build_topic_matcher(self.config)
        return self._topics

    # -- fetching -----------------------------------------------------------------------------
    def _fetch(self, feed: FeedConfig, etag, modified):
        try:
            raw = self.fetcher.fetch(feed.url, etag=etag, modified=modified, limits=feed.limits())
            parsed = None if raw.not_modified else parse_feed(raw, self.config.max_items_per_feed)
            return raw, parsed, None
        except FeedError as exc:
            return None, None, str(exc)
        except Exception as exc:  # one broken feed must not stop the others
            logger.exception("%s: unexpected error", feed.url)
            return None, None, f"{feed.url}: {type(exc).__name__}: {exc}"

    def poll_feeds(self, report: PollReport) -> None:
        feeds = self.config.feeds
        with self.store.session() as session:
            validators = {f.url: (row.etag, row.modified) for f in feeds
                          for row in [self.store.feed(session, f.url, f.name)]}
        # Fetch in parallel (a slow server only delays itself), store one feed at a time.
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(feeds)))) as pool:
            results = list(pool.map(lambda f: self._fetch(f, *validators[f.url]), feeds))
        now = self.clock()
        for feed_config, (raw, parsed, error) in zip(feeds, results):
            with self.store.session() as session:
                feed = self.store.feed(session, feed_config.url, feed_config.name)
                feed.last_polled = now
                if error:
                    feed.error_count += 1
                    feed.consecutive_errors += 1
                    feed.last_error = error
                    report.feeds_failed += 1
                    report.errors.append(error)
                    logger.warning("feed %s skipped (%d consecutive errors): %s", feed_config.name,
                                   feed.consecutive_errors, error)
                    continue
                feed.consecutive_errors, feed.last_error, feed.last_status = 0, None, raw.status
                feed.etag, feed.modified = raw.etag, raw.modified
                if raw.not_modified:
                    report.feeds_not_modified += 1
                    continue
                feed.degraded = parsed.problem
                if parsed.problem:
                    report.feeds_degraded += 1
                    report.degraded.append(f"{feed_config.name}: {parsed.problem}")
                    logger.warning("feed %s degraded: %s", feed_config.name, parsed.problem)
                added = self.store.add_articles(session, feed, parsed.items, now)
                feed.items_seen += added
                report.feeds_ok += 1
                report.new_articles += added
                logger.info("feed %s: %d items, %d new", feed_config.name, len(parsed.items), added)

    # -- scoring ------------------------------------------------------------------------------
    def score_pending(self, report: PollReport) -> None:
        while True:
            with self.store.session() as session:
                articles = self.store.unscored(session, SCORE_BATCH)
                if not articles:
                    return
                texts = [a.text for a in articles]
                model = self.sentiment  # one version per batch, even if a new one is swapped in meanwhile
                sentiments = model.classify(texts)
                matches = self.topics.match(texts)
                now = self.clock()
                for article, sentiment, found in zip(articles, sentiments, matches):
                    session.add(Score(article_id=article.id, model_version=model.version,
                                      label=sentiment.label, confidence=sentiment.confidence,
                                      p_negative=sentiment.p_negative,
                                      probabilities=json.dumps(sentiment.probabilities), scored_at=now))
                    for match in found:
                        session.add(TopicAssignment(article_id=article.id, topic=match.topic,
                                                    method=match.method, score=match.score))
                report.scored += len(articles)

    # -- the cycle ----------------------------------------------------------------------------
    def evaluate(self, report: PollReport) -> None:
        with self.store.session() as session:
            report.alerts += len(evaluate_alerts(session, self.config.topics, self.config.alerts, self.clock()))

    def deliver(self, report: PollReport) -> None:
        result = deliver_pending(self.store, self.notifier, self.config, clock=self.clock)
        report.sent += result["sent"]
        report.send_failed += result["failed"]

    def poll_once(self) -> PollReport:
        started = time.perf_counter()
        report = PollReport()
        self.poll_feeds(report)
        self.score_pending(report)
        self.evaluate(report)
        self.deliver(report)
        report.seconds = time.perf_counter() - started
        logger.info("poll: %s", json.dumps(report.to_dict()))
        return report
