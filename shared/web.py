"""The suite's one web app: a FastAPI application that mounts what each product contributes.

Products register a plugin factory under the entry-point group ``nlpsuite.web``:
``factory(config_path) -> WebPlugin``. The core builds the app from whatever is installed, so
it never imports a product, and the page of links lists exactly the products that are there.
"""
from __future__ import annotations

import hmac
import html
import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

logger = logging.getLogger(__name__)
STYLESHEET = Path(__file__).resolve().parent / "static" / "suite.css"
# The header's links, set by create_app from the installed products (link text -> path).
_NAV: dict[str, str] = {}


def render_page(title: str, body: str, *, active: str = "", refresh_s: int | None = None) -> str:
    """A page of the suite: the shared stylesheet, a header linking every product, ``body``.

    ``active`` is the path of the header link to highlight; ``refresh_s`` makes the browser
    reload the page every so many seconds (the dashboard follows the monitor by itself).
    """
    e = html.escape
    links = "".join(f'<a href="{e(path)}"{" class=active" if path == active else ""}>{e(text)}</a>'
                    for text, path in _NAV.items())
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_s)}">' if refresh_s else ""
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"{refresh}<title>{e(title)} · nlpsuite</title><link rel='stylesheet' href='/static/suite.css'></head>"
            f"<body><header class='suite'><div class='bar'><a class='brand' href='/'>nlpsuite</a>"
            f"<nav>{links}</nav></div></header><main>{body}</main>"
            "<footer class='suite'>nlpsuite: one small language model, three products. "
            "<a href='/health'>health</a></footer></body></html>")


@dataclass
class WebPlugin:
    name: str
    title: str
    router: object  # fastapi.APIRouter
    prefix: str = ""
    pages: dict[str, str] = field(default_factory=dict)  # link text -> path
    health: object = None  # optional callable returning a dict
    description: str = ""
    """One line for the home page: what a person does there."""
    nav: str = ""
    """The header link's text; default: ``title``."""


def require_token(request: Request) -> None:
    """FastAPI dependency of every write or admin endpoint: ``Authorization: Bearer <token>``
    with the suite's API token (`nlpsuite token`), else 401 before anything is read or changed."""
    expected = getattr(request.app.state, "api_token", None)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), expected):
        raise HTTPException(401, "missing or wrong API token: send 'Authorization: Bearer <token>' "
                                 "(`nlpsuite token` prints it)", headers={"WWW-Authenticate": "Bearer"})


def load_plugins(config_path=None) -> list[WebPlugin]:
    plugins = []
    for entry in sorted(entry_points(group="nlpsuite.web"), key=lambda e: e.name):
        plugins.append(entry.load()(config_path))
    return plugins


def create_app(config_path=None, plugins: list[WebPlugin] | None = None, api_token: str | None = None) -> FastAPI:
    """The app; write endpoints require ``api_token`` (default: the suite's, see shared.suite.token)."""
    app = FastAPI(title="nlpsuite")
    if api_token is None:
        from shared.suite.token import suite_api_token

        api_token = suite_api_token(config_path)
    app.state.api_token = api_token
    plugins = load_plugins(config_path) if plugins is None else plugins
    for plugin in plugins:
        app.include_router(plugin.router, prefix=plugin.prefix)
    _NAV.clear()
    _NAV.update({(p.nav or p.title): next(iter(p.pages.values())) for p in plugins if p.pages})

    @app.get("/static/suite.css", include_in_schema=False)
    def stylesheet() -> FileResponse:
        return FileResponse(STYLESHEET, media_type="text/css")

    @app.get("/health")
    def health() -> dict:
        parts = {p.name: (p.health() if p.health else {"status": "ok"}) for p in plugins}
        ok = all(part.get("status") == "ok" for part in parts.values())
        return {"status": "ok" if ok else "degraded", "products": parts}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        e = html.escape
        cards = "".join(
            f"<div class='card'><h2>{e(p.title)}</h2><p class='muted'>{e(p.description)}</p><p>"
            + " · ".join(f'<a href="{e(url)}">{e(text)}</a>' for text, url in p.pages.items())
            + "</p></div>"
            for p in plugins
        )
        body = ("<h1>nlpsuite</h1><p class='lead'>One small language model (MiniLM-L6), fine-tuned on this "
                "machine, behind three products.</p>"
                f"<div class='cards'>{cards or '<p>no product installed</p>'}</div>")
        return render_page("home", body, active="/")

    return app
