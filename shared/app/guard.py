"""The web app's front door: every request is checked here, before any route reads its body.

FastAPI parses a JSON body before it runs a route's dependencies, so a token dependency alone
lets a stranger's malformed body reach the parser (and get a 422 that proves the route exists).
``RequestGuard`` is a plain ASGI middleware in front of the whole app; in this order it refuses:

- a ``Host`` that is not one of the suite's names (400): DNS rebinding cannot make a web page the
  user visits talk to the loopback suite under the attacker's name;
- a client over its budget of state-changing requests (429), beside Rasa's per-sender limit;
- a state-changing request (POST, PUT, PATCH, DELETE) that a browser sends cross-site: an
  ``Origin`` other than the suite's own, or ``Sec-Fetch-Site: cross-site`` (403); one (but a bodiless DELETE) whose body is not
  ``application/json`` (415), which is what an HTML form or a "simple" cross-site fetch sends;
- a body declared larger than the limit (413), and one that turns out larger while it streams;
- a route that needs the API token, called without it (401), before the body is read.
"""
from __future__ import annotations

import json
from typing import Iterable, Optional

from starlette.datastructures import Headers
from starlette.routing import Match

from shared.product.web import OPERATOR_COOKIE, cookie_valid, require_token, token_matches
from shared.rate_limit import SlidingWindowLimit

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
MAX_BODY_BYTES = 1024 * 1024
UNAUTHORIZED = ("missing or wrong API token: send 'Authorization: Bearer <token>' (`nlpsuite token` prints it)")


class ClientRateLimit(SlidingWindowLimit):
    """At most ``per_minute`` state-changing requests per client address in any 60 s: many
    sender ids from one client share one budget (shared.rate_limit)."""


def host_name(host_header: str) -> str:
    """``Host`` without its port ("[::1]:8000" -> "::1", "example:80" -> "example"), lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def token_routes(app) -> list:
    """The app's routes that depend on ``require_token``: the guard checks the token for them first."""
    return [route for route in getattr(app, "routes", [])
            if any(dep.call is require_token for dep in getattr(getattr(route, "dependant", None), "dependencies", []))]


class RequestGuard:
    """ASGI middleware: see the module docstring. ``allowed_hosts`` are names without ports."""

    def __init__(self, app, *, api_token: Optional[str], allowed_hosts: Iterable[str],
                 per_client_per_minute: int = 60, max_body_bytes: int = MAX_BODY_BYTES):
        self.app, self.api_token = app, api_token
        self.allowed_hosts = {host_name(h) for h in allowed_hosts}
        self.limit = ClientRateLimit(per_client_per_minute)
        self.max_body_bytes = max_body_bytes
        self._protected: Optional[list] = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope, Headers(scope=scope))
        if refusal is not None:
            await _send_error(send, *refusal)
            return
        await self.app(scope, *self._capped(receive, send))

    def refusal(self, scope, headers: Headers) -> Optional[tuple]:
        """(status, reason[, headers]) for a request the app must not see, else None."""
        if host_name(headers.get("host", "")) not in self.allowed_hosts:
            return 400, "this host name is not served here (set suite.allowed_hosts to add one)"
        unsafe = scope["method"] in UNSAFE_METHODS
        if unsafe:
            client = (scope.get("client") or ("unknown",))[0]
            wait = self.limit.retry_after(client)
            if wait is not None:
                return 429, f"too many requests from this client: at most {self.limit.per_minute} a minute", \
                    {"retry-after": str(wait)}
            problem = _cross_site(scope, headers)
            if problem:
                return problem
        if self._needs_token(scope) and not self._operator(headers):
            return 401, UNAUTHORIZED, {"www-authenticate": "Bearer"}
        if unsafe:
            length = headers.get("content-length", "0")
            if not length.isdigit():
                return 400, "Content-Length is not a number"
            if int(length) > self.max_body_bytes:
                return 413, f"request body over {self.max_body_bytes:,} bytes"
            bodiless_delete = scope["method"] == "DELETE" and int(length) == 0 and "transfer-encoding" not in headers
            if not bodiless_delete and headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
                return 415, "send the body as Content-Type: application/json"
        return None

    def _operator(self, headers: Headers) -> bool:
        from http.cookies import CookieError, SimpleCookie

        if token_matches(headers.get("authorization", ""), self.api_token):
            return True
        try:
            cookie = SimpleCookie(headers.get("cookie", "")).get(OPERATOR_COOKIE)
        except CookieError:
            return False
        return cookie is not None and cookie_valid(cookie.value, self.api_token)

    def _needs_token(self, scope) -> bool:
        if self._protected is None:
            self._protected = token_routes(scope.get("app") or self.app)
        return any(route.matches(scope)[0] == Match.FULL for route in self._protected)

    def _capped(self, receive, send):
        """``receive`` that stops a body streaming past the limit: the client gets 413 and the
        app sees a disconnect (whatever it answers to that is dropped)."""
        seen, refused, started = 0, False, False

        async def capped_receive():
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes and not started:
                refused = True
                await _send_error(send, 413, f"request body over {self.max_body_bytes:,} bytes")
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        return capped_receive, guarded_send


def _cross_site(scope, headers: Headers) -> Optional[tuple]:
    """403 for a state change a browser sends from another site (CSRF)."""
    origin = headers.get("origin")
    if origin is not None:
        own = {f"{scheme}://{headers.get('host', '')}".lower() for scheme in ("http", "https")}
        if origin.lower() not in own:
            return 403, "cross-site request refused: the Origin is not this suite"
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return 403, "cross-site request refused"
    return None


async def _send_error(send, status: int, reason: str, headers: Optional[dict] = None) -> None:
    body = json.dumps({"detail": reason}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
