"""The suite's one web app: a FastAPI application that mounts what each product contributes.

Products register a plugin factory under the entry-point group ``nlpsuite.web``:
``factory(config_path) -> WebPlugin``. The core builds the app from whatever is installed, so
it never imports a product, and the page of links lists exactly the products that are there.
"""
from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

logger = logging.getLogger(__name__)


@dataclass
class WebPlugin:
    name: str
    title: str
    router: object  # fastapi.APIRouter
    prefix: str = ""
    pages: dict[str, str] = field(default_factory=dict)  # link text -> path
    health: object = None  # optional callable returning a dict


def load_plugins(config_path=None) -> list[WebPlugin]:
    plugins = []
    for entry in sorted(entry_points(group="nlpsuite.web"), key=lambda e: e.name):
        plugins.append(entry.load()(config_path))
    return plugins


def create_app(config_path=None, plugins: list[WebPlugin] | None = None) -> FastAPI:
    app = FastAPI(title="nlpsuite")
    plugins = load_plugins(config_path) if plugins is None else plugins
    for plugin in plugins:
        app.include_router(plugin.router, prefix=plugin.prefix)

    @app.get("/health")
    def health() -> dict:
        parts = {p.name: (p.health() if p.health else {"status": "ok"}) for p in plugins}
        ok = all(part.get("status") == "ok" for part in parts.values())
        return {"status": "ok" if ok else "degraded", "products": parts}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        items = "".join(
            f"<li>{html.escape(p.title)}: "
            + ", ".join(f'<a href="{html.escape(url)}">{html.escape(text)}</a>' for text, url in p.pages.items())
            + "</li>"
            for p in plugins
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>nlpsuite</title></head>"
            f"<body><h1>nlpsuite</h1><ul>{items or '<li>no product installed</li>'}</ul>"
            "<p><a href='/health'>health</a></p></body></html>"
        )

    return app
