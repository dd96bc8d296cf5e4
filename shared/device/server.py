"""``nlpsuite-device serve``: a small HTTP endpoint for a kiosk or a head unit that talks to it locally.

The standard library's threading HTTP server. ``GET /health`` and ``POST /predict`` answer
anyone who can reach it (loopback by default); ``POST /learn`` changes the model, so it needs the
owner's token (``Authorization: Bearer ...``), checked before the body is read, and is off when
no token is set. Bodies are JSON (``Content-Type: application/json``) of at most ``MAX_BODY``
bytes, refused before they are read when larger.

    POST /predict  {"texts": ["..."], "top_k": 5}        -> {"predictions": [...]}
    POST /learn    {"texts": [...], "labels": [...]}     -> {"version", "new_labels", ...}
    GET  /health                                          -> {"status": "ok", "version", "labels"}
"""
from __future__ import annotations

import hmac
import json
import logging
import math
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .bundle import DeviceError

logger = logging.getLogger(__name__)
MAX_BODY = 1 << 20
MAX_TEXTS = 256


class _RequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _authorised(header: str | None, token: str | None) -> bool:
    if not token:
        return False
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def _texts(body: dict, key: str = "texts") -> list[str]:
    values = body.get(key)
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise _RequestError(422, f"field '{key}': a non-empty list of strings")
    if len(values) > MAX_TEXTS:
        raise _RequestError(413, f"field '{key}': at most {MAX_TEXTS} per request")
    return values


def _predict(classifier, body: dict) -> dict:
    top_k = body.get("top_k", classifier.top_k)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 50:
        raise _RequestError(422, "field 'top_k': an integer from 1 to 50")
    return {"predictions": [p.to_dict() for p in classifier.predict(_texts(body), top_k=top_k)]}


def _check_token(header: str | None, token: str | None) -> None:
    if not token:
        raise _RequestError(403, "learning over HTTP is off: start serve with a token")
    if not _authorised(header, token):
        raise _RequestError(401, "send the owner's token: Authorization: Bearer ...")


def _learn(classifier, body: dict) -> dict:
    return classifier.learn(_texts(body), _texts(body, "labels")).to_dict()


def make_handler(classifier, token: str | None):
    """The request handler class for ``classifier``; ``token``: what /learn must be sent (None: off)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "nlpsuite-device"

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict:
            if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
                raise _RequestError(415, "send the body as application/json")
            try:
                length = int(self.headers.get("Content-Length") or "")
            except ValueError:
                raise _RequestError(411, "a Content-Length header is required") from None
            if length > MAX_BODY:
                raise _RequestError(413, f"the body is larger than {MAX_BODY} bytes")
            try:
                body = json.loads(self.rfile.read(length), parse_constant=lambda name: math.nan)
            except (ValueError, UnicodeDecodeError):
                raise _RequestError(400, "the body is not valid JSON") from None
            if not isinstance(body, dict):
                raise _RequestError(422, "the body must be a JSON object")
            return body

        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path != "/health":
                return self._send(404, {"error": "not found"})
            self._send(200, {"status": "ok", "version": classifier.version, "labels": len(classifier.labels)})

        def do_POST(self):  # noqa: N802
            try:
                if self.path == "/predict":
                    return self._send(200, _predict(classifier, self._body()))
                if self.path == "/learn":
                    _check_token(self.headers.get("Authorization"), token)  # before the body is read
                    return self._send(200, _learn(classifier, self._body()))
                raise _RequestError(404, "not found")
            except _RequestError as exc:
                self._send(exc.status, {"error": str(exc)})
            except DeviceError as exc:
                self._send(422, {"error": str(exc)})

        def log_message(self, fmt, *args):
            logger.info("%s %s", self.address_string(), fmt % args)

    return Handler


def serve(classifier, host: str, port: int, token: str | None) -> ThreadingHTTPServer:
    """A started-on-demand server (call ``serve_forever``); bound before it returns."""
    server = ThreadingHTTPServer((host, port), make_handler(classifier, token))
    server.daemon_threads = True
    return server
