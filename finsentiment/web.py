"""The monitor's page in the suite web app: topics with their current window, a trend chart per
topic, and recent alerts. Read-only: it opens the same database the daemon writes."""
from __future__ import annotations

import html
import logging
from functools import lru_cache

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from shared.web import WebPlugin

logger = logging.getLogger(__name__)
FIRING_STYLE = ' style="background:#fde2e2"'


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
                 "n_items": a.n_items} for a in store.recent_alerts(limit)]

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
        selected = topic if topic in {t["topic"] for t in topics} else (topics[0]["topic"] if topics else "")
        e = html.escape
        topic_rows = "".join(
            f"<tr{FIRING_STYLE if t['firing'] else ''}>"
            f"<td><a href='?topic={e(t['topic'])}&days={days:g}'>{e(t['topic'])}</a></td>"
            f"<td>{t['window_items']}</td><td>{t['negative_share']:.0%}</td><td>{t['baseline']:.0%}</td>"
            f"<td>{'FIRING' if t['firing'] else 'ok'}</td></tr>" for t in topics)
        alert_rows = "".join(
            f"<tr><td>{a['created_at'].replace('T', ' ')}</td><td>{e(a['topic'])}</td><td>{a['kind']}</td>"
            f"<td>{a['negative_share']:.0%} of {a['n_items']}</td><td>{a['status']} ({a['attempts']} tries)</td></tr>"
            for a in alerts_summary(20)) or "<tr><td colspan='5'>no alerts yet</td></tr>"
        chart_img = (f"<h2>{e(selected)}: last {days:g} days</h2>"
                     f"<img alt='trend chart' src='chart.png?topic={e(selected)}&days={days:g}'>") if selected else ""
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>finsentiment</title></head><body>"
            "<h1>Financial news sentiment</h1>"
            f"<p>{len(config.feeds)} feeds; alert when at least {config.alerts.min_items} articles in "
            f"{config.alerts.window_hours:g} h are {config.alerts.negative_share:.0%}+ negative.</p>"
            "<table border='1' cellpadding='4' cellspacing='0'><tr><th>topic</th><th>articles in window</th>"
            f"<th>negative share</th><th>baseline</th><th>state</th></tr>{topic_rows}</table>"
            f"{chart_img}<h2>Recent alerts</h2><table border='1' cellpadding='4' cellspacing='0'>"
            "<tr><th>created (UTC)</th><th>topic</th><th>kind</th><th>negative</th><th>delivery</th></tr>"
            f"{alert_rows}</table><p><a href='/'>nlpsuite</a></p></body></html>")

    def health() -> dict:
        try:
            _, store = state()
            with store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return {"status": "ok"}
        except Exception as exc:  # reported, not raised: /health must answer
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}

    return WebPlugin(name="finsentiment", title="Financial news sentiment", router=router, prefix="/finsentiment",
                     pages={"dashboard": "/finsentiment/"}, health=health)
