"""The suite's one web app: a FastAPI application that mounts what each product contributes
(``shared.product.web.WebPlugin``, from each ``Product`` of ``nlpsuite.products``), so the app never
imports a product, and the home page lists exactly the products that are installed.
"""
from __future__ import annotations

import html
import json
import os
import sys
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from shared.app.guard import RequestGuard
from shared.app.model_status import describe, model_status
from shared.app.signin import signin_router
from shared.product import Service, http_ready
from shared.product.settings import load_settings
from shared.product import web as product_web
from shared.product.web import STYLESHEET, WebPlugin, render_page
from shared.registry import PRODUCTS

# uvicorn puts its --app-dir (default: the working directory) first on sys.path; point it where
# the suite's packages are, so that nothing in the working directory can shadow them.
PACKAGES = str(Path(__file__).resolve().parents[2])


WORKER_MB = 600
"""Resident memory of one web worker with every product's model loaded (the quick suite's,
measured with ps after a recommend, a dashboard and a chat page: see docs/recommender.md)."""


def auto_workers(per_worker_mb: float = WORKER_MB, meminfo: str | Path = "/proc/meminfo") -> int:
    """One web worker per core, no more than half the available memory holds (at least one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    available_mb = None
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available_mb = int(line.split()[1]) / 1024
    except OSError:
        pass
    if available_mb is None:
        return 1
    return max(1, min(cores, int(available_mb * 0.5 // per_worker_mb)))


WORKERS_ENV = "NLPSUITE_WEB_WORKERS"


def worker_share(per_minute: int) -> int:
    """One worker's part of a per-client budget: each uvicorn worker counts on its own, and the
    kernel spreads a client's connections over them, so each takes its share of the whole."""
    workers = int(os.environ.get(WORKERS_ENV, "1") or 1)
    return max(1, per_minute // max(1, workers))


def web_service(host: str, port: int, *, logging_config=None, python: str = sys.executable,
                workers: int | None = None, name: str = "web", total_workers: int | None = None) -> Service:
    """The web app under uvicorn: the one place its command line is built (`nlpsuite run` and
    every product's `serve`). It reads the effective config from ``$NLPSUITE_CONFIG``.
    ``workers``: uvicorn processes (default ``auto_workers()``); each loads its own models.
    ``total_workers``: every process serving the app, replicas included (per-client budgets are
    shared among them)."""
    workers = workers or auto_workers()
    command = [python, "-P", "-m", "uvicorn", "--factory", "shared.app.web:create_app", "--app-dir", PACKAGES,
               "--host", host, "--port", str(port), "--log-level", "warning", "--workers", str(workers),
               "--ws", "none"]  # rasa pins websockets 10: too old for uvicorn's websocket support
    if logging_config:
        command += ["--log-config", str(logging_config)]
    return Service(name, command, port=port, port_key="suite.web_port", host=host,
                   env={WORKERS_ENV: str(total_workers or workers)},
                   ready=http_ready(f"http://{host}:{port}/health"), ready_timeout_s=120)


def load_plugins(config_path=None) -> list[WebPlugin]:
    """Every installed product's web plugin, built for ``config_path``."""
    plugins = []
    for _, product in PRODUCTS.items():
        plugin = product.web_plugin(config_path)
        if plugin is not None:
            plugins.append(plugin)
    return plugins


def service_status(settings) -> dict:
    """Each service's state as `nlpsuite run`'s supervisor last wrote it (empty outside a run)."""
    from shared.app.supervisor import SERVICES_STATUS

    try:
        return json.loads((Path(settings.var_dir) / "logs" / SERVICES_STATUS).read_text())
    except (OSError, ValueError):
        return {}


def troubled(services: dict) -> dict:
    """The services that are not serving now: crashed and waiting to start again, or failed."""
    return {name: row for name, row in services.items() if row.get("state") in ("waiting", "failed")}


def create_app(config_path=None, plugins: list[WebPlugin] | None = None, api_token: str | None = None) -> FastAPI:
    """The app; write endpoints require ``api_token`` (default: the suite's, see shared.product.token)."""
    app = FastAPI(title="nlpsuite")
    if api_token is None:
        from shared.product.token import suite_api_token

        api_token = suite_api_token(config_path)
    app.state.api_token = api_token
    settings = load_settings(config_path)
    app.add_middleware(RequestGuard, api_token=api_token, allowed_hosts=settings.served_host_names(),
                       per_client_per_minute=worker_share(settings.client_requests_per_minute))
    plugins = load_plugins(config_path) if plugins is None else plugins
    app.include_router(signin_router())
    for plugin in plugins:
        app.include_router(plugin.router, prefix=plugin.prefix)
    product_web.NAV.clear()
    product_web.NAV.update({(p.nav or p.title): next(iter(p.pages.values())) for p in plugins if p.pages})

    @app.get("/static/suite.css", include_in_schema=False)
    def stylesheet() -> FileResponse:
        return FileResponse(STYLESHEET, media_type="text/css")

    @app.get("/health")
    def health() -> dict:
        parts = {p.name: (p.health() if p.health else {"status": "ok"}) for p in plugins}
        services = service_status(settings)
        ok = all(part.get("status") == "ok" for part in parts.values()) and not troubled(services)
        return {"status": "ok" if ok else "degraded", "products": parts, "models": model_status(settings),
                "services": services}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        e = html.escape
        models = model_status(settings)
        models_card = ("<div class='card'><h2>Models</h2><ul>" + "".join(
            f"<li>{e(describe(name, status))}</li>" for name, status in models.items())
            + "</ul><p class='muted'>Better versions train in the background and are swapped in live "
              "when they score better on validation data (<a href='/health'>/health</a>).</p></div>"
            if models else "")
        trouble = troubled(service_status(settings))
        services_card = ("<div class='card warn'><h2>Services</h2><ul>" + "".join(
            f"<li>{e(name)}: {e(row['state'])} since {e(row['since'])}"
            + (f" ({e(row['last_stop'])})" if row.get("last_stop") else "") + "</li>"
            for name, row in trouble.items())
            + "</ul><p class='muted'>The other services keep serving; this one is started again by itself.</p></div>"
            if trouble else "")
        cards = "".join(
            f"<div class='card'><h2>{e(p.title)}</h2><p class='muted'>{e(p.description)}</p><p>"
            + " · ".join(f'<a href="{e(url)}">{e(text)}</a>' for text, url in p.pages.items())
            + "</p></div>"
            for p in plugins
        )
        body = ("<h1>nlpsuite</h1><p class='lead'>One small language model (MiniLM-L6), fine-tuned on this "
                "machine, behind three products.</p>"
                f"<div class='cards'>{services_card}{cards or '<p>no product installed</p>'}{models_card}</div>")
        return render_page("home", body, active="/")

    return app
