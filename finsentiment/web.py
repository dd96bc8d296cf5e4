"""The monitor's page in the suite web app: topics with their current window, a trend chart per
topic, and recent alerts. Read-only: it opens the same database the daemon writes.

``Dashboard`` reads (the topics' windows, the alerts, a topic's chart); the ``_rows`` helpers
render; ``plugin`` only wires the routes.
"""
from __future__ import annotations

import html
import logging
from functools import cached_property

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from shared.product import WebPlugin, render_page

logger = logging.getLogger(__name__)
REFRESH_S = 30  # the page reloads itself, so an open dashboard follows the monitor


class Dashboard:
    """What the page shows, read from the monitor's database on each request."""

    def __init__(self, config_path=None):
        self.config_path = config_path

    @cached_property
    def state(self):
        """(config, store), loaded on first use, so a broken finsentiment section does not stop
        the other products' pages."""
        from finsentiment.config import load_config
        from finsentiment.store import Store

        config = load_config(self.config_path)
        return config, Store(config.database_url)

    def topics(self) -> list[dict]:
        """Each topic's current window, baseline and whether it is firing."""
        from finsentiment.store import TopicState, utcnow
        from finsentiment.trends import topic_trend

        config, store = self.state
        now = utcnow()
        rows = []
        with store.session() as session:
            for topic in config.topics:
                trend = topic_trend(session, topic.name, config.alerts, now)
                topic_state = session.get(TopicState, topic.name)
                rows.append({"topic": topic.name, "window_items": trend.window.n_items,
                             "window_negative": trend.window.n_negative,
                             "negative_share": round(trend.window.negative_share, 4),
                             "baseline": round(trend.baseline, 4),
                             "firing": bool(topic_state and topic_state.firing)})
        return rows

    def alerts(self, limit: int) -> list[dict]:
        """The ``limit`` most recent alerts with their delivery state."""
        _, store = self.state
        return [{"id": a.id, "topic": a.topic, "kind": a.kind, "status": a.status, "attempts": a.attempts,
                 "created_at": a.created_at.isoformat(), "negative_share": round(a.negative_share, 4),
                 "n_items": a.n_items, "last_error": a.last_error} for a in store.recent_alerts(limit)]

    def feeds(self) -> list[dict]:
        """Each feed's state after its last poll: ok, degraded (read, not well-formed) or failing."""
        from sqlalchemy import select

        from finsentiment.store import Feed

        _, store = self.state
        with store.session() as session:
            rows = session.execute(select(Feed).order_by(Feed.name)).scalars().all()
            return [{"name": f.name, "url": f.url, "last_polled": f.last_polled.isoformat() if f.last_polled else None,
                     "state": "failing" if f.consecutive_errors else ("degraded" if f.degraded else "ok"),
                     "reason": f.last_error if f.consecutive_errors else f.degraded} for f in rows]

    def chart(self, topic: str, days: float) -> bytes:
        """The topic's trend over ``days`` as a PNG; an unknown topic is a 404."""
        from finsentiment.store import utcnow
        from finsentiment.trends import chart_png, series, topic_trend

        config, store = self.state
        if topic not in {t.name for t in config.topics}:
            raise HTTPException(404, f"unknown topic {topic!r}")
        now = utcnow()
        with store.session() as session:
            points = series(session, topic, now, days)
            baseline = topic_trend(session, topic, config.alerts, now).baseline
        return chart_png(topic, points, config.alerts.negative_share, baseline)

    def page(self, topic: str, days: float) -> str:
        """The dashboard; without a choice, the chart shows the first firing topic: what the
        reader came to see."""
        config, _ = self.state
        topics = self.topics()
        firing = [t["topic"] for t in topics if t["firing"]]
        names = {t["topic"] for t in topics}
        selected = topic if topic in names else next(iter(firing + [t["topic"] for t in topics]), "")
        e = html.escape
        chart_img = (f"<h2>{e(selected)}: last {days:g} days</h2>"
                     f"<img class='chart' alt='trend chart' src='chart.png?topic={e(selected)}&days={days:g}'>"
                     ) if selected else ""
        a = config.alerts
        body = (
            "<h1>Financial news sentiment</h1>"
            f"<p class='lead'>{len(config.feeds)} feeds; a topic fires when at least {a.min_items} "
            f"articles in {a.window_hours:g} h are {a.negative_share:.0%}+ negative and "
            f"{a.min_deviation:.0%} above its own baseline. This page refreshes every {REFRESH_S} s.</p>"
            "<table><tr><th>topic</th><th class=num>articles in window</th>"
            f"<th class=num>negative share</th><th class=num>baseline</th><th>state</th></tr>"
            f"{_topic_rows(topics, days)}</table>"
            f"{chart_img}<h2>Recent alerts</h2><table>"
            "<tr><th>created (UTC)</th><th>topic</th><th>kind</th><th class=num>negative</th><th>delivery</th></tr>"
            f"{_alert_rows(self.alerts(20))}</table>{_feed_rows(self.feeds())}")
        return render_page("news sentiment", body, active="/finsentiment/", refresh_s=REFRESH_S)

    def health(self) -> dict:
        """Whether the database answers; reported, never raised: /health must answer."""
        try:
            _, store = self.state
            with store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return {"status": "ok"}
        except Exception as exc:
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}


def _topic_rows(topics: list[dict], days: float) -> str:
    e = html.escape
    return "".join(
        f"<tr{' class=firing' if t['firing'] else ''}>"
        f"<td><a href='?topic={e(t['topic'])}&days={days:g}'>{e(t['topic'])}</a></td>"
        f"<td class=num>{t['window_items']}</td><td class=num>{t['negative_share']:.0%}</td>"
        f"<td class=num>{t['baseline']:.0%}</td>"
        f"<td><span class='badge {'firing' if t['firing'] else 'ok'}'>{'FIRING' if t['firing'] else 'ok'}</span>"
        "</td></tr>" for t in topics)


def _feed_rows(feeds: list[dict]) -> str:
    """The feeds table: only when a feed needs a look (degraded or failing)."""
    e = html.escape
    troubled = [f for f in feeds if f["state"] != "ok"]
    if not troubled:
        return ""
    rows = "".join(f"<tr><td>{e(f['name'])}</td><td><span class='badge {e(f['state'])}'>{e(f['state'])}</span></td>"
                   f"<td><small>{e(f['reason'] or '')}</small></td></tr>" for f in troubled)
    return f"<h2>Feeds that need a look</h2><table><tr><th>feed</th><th>state</th><th>why</th></tr>{rows}</table>"


def _alert_rows(alerts: list[dict]) -> str:
    e = html.escape
    return "".join(
        f"<tr><td>{a['created_at'].replace('T', ' ')}</td><td>{e(a['topic'])}</td><td>{a['kind']}</td>"
        f"<td class=num>{a['negative_share']:.0%} of {a['n_items']}</td>"
        f"<td><span class='badge {e(a['status'])}'>{e(a['status'])}</span> "
        f"<small>({a['attempts']} tries)</small>"
        + (f"<br><small class='error'>{e(a['last_error'])}</small>" if a['last_error'] and a['status'] != 'sent'
           else "") + "</td></tr>"
        for a in alerts) or "<tr><td colspan='5' class='muted'>no alerts yet</td></tr>"


def plugin(config_path=None) -> WebPlugin:
    """The dashboard's routes under /finsentiment: the page, its chart and two JSON APIs."""
    dashboard = Dashboard(config_path)
    router = APIRouter()

    @router.get("/api/topics")
    def api_topics() -> list[dict]:
        return dashboard.topics()

    @router.get("/api/alerts")
    def api_alerts(limit: int = Query(20, ge=1, le=500)) -> list[dict]:
        return dashboard.alerts(limit)

    @router.get("/api/feeds")
    def api_feeds() -> list[dict]:
        return dashboard.feeds()

    @router.get("/chart.png")
    def chart(topic: str, days: float = Query(7.0, gt=0, le=365)) -> Response:
        return Response(dashboard.chart(topic, days), media_type="image/png")

    @router.get("/", response_class=HTMLResponse)
    def page(topic: str = "", days: float = Query(7.0, gt=0, le=365)) -> str:
        return dashboard.page(topic, days)

    return WebPlugin(name="finsentiment", title="Financial news sentiment", router=router, prefix="/finsentiment",
                     pages={"dashboard": "/finsentiment/"}, health=dashboard.health, nav="News sentiment",
                     description="Sentiment and topics of financial news feeds, trends per topic, "
                                 "alert mails when negative news spikes.")
