"""The monitor's page in the suite web app: topics with their current window, a trend chart per
topic, and recent alerts. Read-only: it opens the same database the daemon writes."""
from __future__ import annotations

import html
import logging
from functools import lru_cache

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from shared.product import WebPlugin, render_page

logger = logging.getLogger(__name__)
REFRESH_S = 30  # the page reloads itself, so an open dashboard follows the monitor


def plugin(config_path=None) -> WebPlugin:
    router = APIRouter()

    @lru_cache(maxsize=1)
    def state():
        # Loaded on first use, so a broken finsentiment section does not stop the other products' pages.
        from finsentiment.config import load_config
        from finsentiment.store import Store

        config = load_config(config_path)
        return config, Store(config.database_url)

    def topics_summary() -> list[dict]:
        from finsentiment.store import TopicState, utcnow
        from finsentiment.trends import topic_trend

        config, store = state()
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

    def alerts_summary(limit: int) -> list[dict]:
        _, store = state()
        return [{"id": a.id, "topic": a.topic, "kind": a.kind, "status": a.status, "attempts": a.attempts,
                 "created_at": a.created_at.isoformat(), "negative_share": round(a.negative_share, 4),
                 "n_items": a.n_items, "last_error": a.last_error} for a in store.recent_alerts(limit)]

    @router.get("/api/topics")
    def api_topics() -> list[dict]:
        return topics_summary()

    @router.get("/api/alerts")
    def api_alerts(limit: int = Query(20, ge=1, le=500)) -> list[dict]:
        return alerts_summary(limit)

    @router.get("/chart.png")
    def chart(topic: str, days: float = Query(7.0, gt=0, le=365)) -> Response:
        from finsentiment.store import utcnow
        from finsentiment.trends import chart_png, series, topic_trend

        config, store = state()
        names = {t.name for t in config.topics}
        if topic not in names:
            raise HTTPException(404, f"unknown topic {topic!r}")
        now = utcnow()
        with store.session() as session:
            points = series(session, topic, now, days)
            baseline = topic_trend(session, topic, config.alerts, now).baseline
        return Response(chart_png(topic, points, config.alerts.negative_share, baseline), media_type="image/png")

    @router.get("/", response_class=HTMLResponse)
    def dashboard(topic: str = "", days: float = Query(7.0, gt=0, le=365)) -> str:
        config, _ = state()
        topics = topics_summary()
        # Without a choice, the chart shows the first firing topic: what the reader came to see.
        firing = [t["topic"] for t in topics if t["firing"]]
        selected = topic if topic in {t["topic"] for t in topics} else next(iter(firing + [t["topic"] for t in topics]), "")
        e = html.escape
        topic_rows = "".join(
            f"<tr{' class=firing' if t['firing'] else ''}>"
            f"<td><a href='?topic={e(t['topic'])}&days={days:g}'>{e(t['topic'])}</a></td>"
            f"<td class=num>{t['window_items']}</td><td class=num>{t['negative_share']:.0%}</td>"
            f"<td class=num>{t['baseline']:.0%}</td>"
            f"<td><span class='badge {'firing' if t['firing'] else 'ok'}'>{'FIRING' if t['firing'] else 'ok'}</span>"
            "</td></tr>" for t in topics)
        alert_rows = "".join(
            f"<tr><td>{a['created_at'].replace('T', ' ')}</td><td>{e(a['topic'])}</td><td>{a['kind']}</td>"
            f"<td class=num>{a['negative_share']:.0%} of {a['n_items']}</td>"
            f"<td><span class='badge {e(a['status'])}'>{e(a['status'])}</span> "
            f"<small>({a['attempts']} tries)</small>"
            + (f"<br><small class='error'>{e(a['last_error'])}</small>" if a['last_error'] and a['status'] != 'sent'
               else "") + "</td></tr>"
            for a in alerts_summary(20)) or "<tr><td colspan='5' class='muted'>no alerts yet</td></tr>"
        chart_img = (f"<h2>{e(selected)}: last {days:g} days</h2>"
                     f"<img class='chart' alt='trend chart' src='chart.png?topic={e(selected)}&days={days:g}'>"
                     ) if selected else ""
        body = (
            "<h1>Financial news sentiment</h1>"
            f"<p class='lead'>{len(config.feeds)} feeds; a topic fires when at least {config.alerts.min_items} "
            f"articles in {config.alerts.window_hours:g} h are {config.alerts.negative_share:.0%}+ negative and "
            f"{config.alerts.min_deviation:.0%} above its own baseline. This page refreshes every {REFRESH_S} s.</p>"
            "<table><tr><th>topic</th><th class=num>articles in window</th>"
            f"<th class=num>negative share</th><th class=num>baseline</th><th>state</th></tr>{topic_rows}</table>"
            f"{chart_img}<h2>Recent alerts</h2><table>"
            "<tr><th>created (UTC)</th><th>topic</th><th>kind</th><th class=num>negative</th><th>delivery</th></tr>"
            f"{alert_rows}</table>")
        return render_page("news sentiment", body, active="/finsentiment/", refresh_s=REFRESH_S)

    def health() -> dict:
        try:
            _, store = state()
            with store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return {"status": "ok"}
        except Exception as exc:  # reported, not raised: /health must answer
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}

    return WebPlugin(name="finsentiment", title="Financial news sentiment", router=router, prefix="/finsentiment",
                     pages={"dashboard": "/finsentiment/"}, health=health, nav="News sentiment",
                     description="Sentiment and topics of financial news feeds, trends per topic, "
                                 "alert mails when negative news spikes.")
