"""What a product needs to add pages and endpoints to the suite's one web app.

A product names a plugin factory in its ``Product`` (``web``):
``factory(config_path) -> WebPlugin``. The app (``shared.app.web``) builds the FastAPI
application from whatever is installed. Pages share one look through ``render_page``; write
endpoints depend on ``require_token``.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException, Request

logger = logging.getLogger(__name__)
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "suite.css"
# The header's links, set by the app from the installed products (link text -> path).
NAV: dict[str, str] = {}


def render_page(title: str, body: str, *, active: str = "", refresh_s: int | None = None) -> str:
    """A page of the suite: the shared stylesheet, a header linking every product, ``body``.

    ``active`` is the path of the header link to highlight; ``refresh_s`` makes the browser
    reload the page every so many seconds (the dashboard follows the monitor by itself).
    """
    e = html.escape
    links = "".join(f'<a href="{e(path)}"{" class=active" if path == active else ""}>{e(text)}</a>'
                    for text, path in NAV.items())
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
    """What a product adds to the suite's web app: a router under ``prefix``, its pages for the
    header and home page, and an optional health check."""

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


def token_matches(authorization: str, expected) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <expected>``. Compared as bytes, so a
    header with any bytes at all (Starlette decodes them as Latin-1) is a plain mismatch, never an error."""
    scheme, _, given = (authorization or "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"),
                               str(expected).encode("utf-8", "surrogateescape"))


OPERATOR_COOKIE = "nlpsuite_operator"
OPERATOR_HOURS = 8


def operator_cookie(token: str, now: float | None = None) -> str:
    """A sign-in cookie for the operator pages: its expiry, signed with the API token (so it
    holds no secret, cannot be forged or extended, and dies when the token changes)."""
    expiry = str(int((now if now is not None else time.time()) + OPERATOR_HOURS * 3600))
    return f"{expiry}.{_sign(token, expiry)}"


def cookie_valid(value: str, token, now: float | None = None) -> bool:
    """Whether ``value`` is an operator cookie this token signed that has not expired."""
    expiry, _, signature = (value or "").partition(".")
    if not token or not expiry.isdigit() or int(expiry) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature.encode("utf-8", "surrogateescape"), _sign(str(token), expiry).encode())


def _sign(token: str, expiry: str) -> str:
    return hmac.new(token.encode("utf-8"), f"operator:{expiry}".encode(), hashlib.sha256).hexdigest()


def is_operator(request: Request) -> bool:
    """Whether the caller sent the API token or a valid operator sign-in cookie."""
    token = getattr(request.app.state, "api_token", None)
    return (token_matches(request.headers.get("authorization", ""), token)
            or cookie_valid(request.cookies.get(OPERATOR_COOKIE, ""), token))


async def require_token(request: Request) -> None:
    """FastAPI dependency of every write, admin or per-user endpoint: ``Authorization: Bearer
    <token>`` with the suite's API token (`nlpsuite token`), or an operator's sign-in cookie
    (``/signin``), else 401. The app's ``RequestGuard`` (shared.app.guard) checks routes that
    declare it before their body is read. ``async`` because FastAPI runs a plain ``def``
    dependency on its thread pool: a hop per request that cost a cached recommendation (a
    dictionary lookup on the event loop) most of its time."""
    if not is_operator(request):
        raise HTTPException(401, "missing or wrong API token: send 'Authorization: Bearer <token>' "
                                 "(`nlpsuite token` prints it)", headers={"WWW-Authenticate": "Bearer"})
