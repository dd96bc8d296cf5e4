"""Rasa's REST channel with a guard in front: bad requests get a 4xx that says why, odd but
valid messages get a polite reply, and nothing reaches the tracker that could break it.

Listed in credentials.yml as ``chatbot.channels.GuardedRestInput``; it keeps the name
``rest``, so clients still post to ``/webhooks/rest/webhook`` ({"sender": ..., "message": ...}).
"""
from __future__ import annotations

import os

import json
import logging
import re
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from chatbot.settings import REPLICAS_ENV
from chatbot.senders import is_issued, issue, sender_key
from shared.rate_limit import SlidingWindowLimit

logger = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
SENDER_PATTERN = re.compile(r"^[\w.@:+-]{1,%d}$" % MAX_SENDER_CHARS)
EMPTY_REPLY = "I didn't get any text there. What can I help you with?"
TOO_LONG_REPLY = ("That message is too long for me ({n:,} characters; I can read up to {limit:,}). "
                  "Could you put your question in a sentence or two?")


DEFAULT_PER_MINUTE = 30
SESSIONS_PER_MINUTE = 20
"""New sender ids one client address may ask for in a minute without the API token."""
SENDER_KEY: Optional[bytes] = None
"""Set by ``configure`` (``chatbot.rasa_launcher``, from the API token): then only issued
sender ids may talk."""
API_TOKEN: Optional[str] = None
UNISSUED = "unknown sender id: ask POST /webhooks/rest/session for one (the server issues and signs them)"


def _error(status: int, reason: str, headers: Optional[dict] = None):
    return response.json({"error": reason}, status=status, headers=headers)


class SenderRateLimit(SlidingWindowLimit):
    """At most ``per_minute`` messages per sender in any 60 s (shared.rate_limit), so one client
    cannot flood the bot or other customers' answers."""


def configure(api_token: str) -> None:
    """Sign and check sender ids with a key from ``api_token`` (Rasa started by the suite)."""
    global SENDER_KEY, API_TOKEN
    SENDER_KEY, API_TOKEN = sender_key(api_token), api_token


def _has_token(request: Request) -> bool:
    """Whether the caller sent Rasa's API token (``?token=``): trusted clients (the suite's web
    app, benchmarks) open as many conversations as they need."""
    from chatbot.actions_launcher import token_matches

    return bool(API_TOKEN) and token_matches(request.args.get("token", ""), API_TOKEN)


def check_request(body: bytes) -> tuple[Optional[dict], Optional[tuple[int, str]]]:
    """The parsed request, or (status, reason) for a request that cannot be processed."""
    if not body:
        return None, (400, "empty request body; send JSON {\"sender\": ..., \"message\": ...}")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, (400, f"invalid JSON: {exc}")
    if not isinstance(payload, dict):
        return None, (400, "the body must be a JSON object with 'sender' and 'message'")
    message = payload.get("message")
    if not isinstance(message, str):
        return None, (400, "field 'message': expected a string")
    sender = payload.get("sender", "default")
    if not isinstance(sender, str) or not SENDER_PATTERN.match(sender):
        return None, (400, f"field 'sender': expected 1-{MAX_SENDER_CHARS} letters, digits or . _ - @ : +")
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return None, (400, "field 'metadata': expected a JSON object")
    return payload, None


def replica_share(per_minute: int) -> int:
    """One Rasa replica's part of a per-sender budget: each replica counts on its own and the
    proxy sends a sender's messages round robin, so each takes its share of the whole
    (``$NLPSUITE_RASA_REPLICAS``, set by `nlpsuite run` for ``suite.replicas``)."""
    replicas = max(1, int(os.environ.get(REPLICAS_ENV, "1") or 1))
    return max(1, per_minute // replicas)


class GuardedRestInput(RestInput):
    """credentials.yml: ``chatbot.channels.GuardedRestInput: {messages_per_minute: 30}``."""

    def __init__(self, messages_per_minute: int = DEFAULT_PER_MINUTE):
        super().__init__()
        self.limit = SenderRateLimit(replica_share(int(messages_per_minute)))
        self.sessions = SenderRateLimit(replica_share(SESSIONS_PER_MINUTE))

    @classmethod
    def from_credentials(cls, credentials: Optional[dict]) -> "GuardedRestInput":
        return cls(**{k: v for k, v in (credentials or {}).items() if k == "messages_per_minute"})

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        guarded = Blueprint("guarded_rest_webhook", __name__)

        @guarded.route("/", methods=["GET"])
        async def health(request: Request):
            return response.json({"status": "ok"})

        @guarded.route("/session", methods=["POST"])
        async def session(request: Request):
            """A new signed sender id; a client without the API token gets a few a minute."""
            if not _has_token(request):
                wait = self.sessions.retry_after(request.ip or "unknown")
                if wait is not None:
                    return _error(429, f"too many new conversations from this client; try again in {wait} s",
                                  headers={"Retry-After": str(wait)})
            return response.json({"sender": issue(SENDER_KEY) if SENDER_KEY else issue(b"unsigned")})

        @guarded.route("/webhook", methods=["POST"])
        async def webhook(request: Request):
            payload, problem = check_request(request.body)
            if problem:
                return _error(*problem)
            text, sender = payload["message"], payload.get("sender", "default")
            if not is_issued(SENDER_KEY, sender):
                return _error(403, UNISSUED)
            wait = self.limit.retry_after(sender)
            if wait is not None:
                return _error(429, f"too many messages from this sender: at most {self.limit.per_minute} a minute; "
                                   f"try again in {wait} s", headers={"Retry-After": str(wait)})
            if not text.strip():
                return response.json([{"recipient_id": sender, "text": EMPTY_REPLY}])
            if len(text) > MAX_MESSAGE_CHARS:
                reply = TOO_LONG_REPLY.format(n=len(text), limit=MAX_MESSAGE_CHARS)
                return response.json([{"recipient_id": sender, "text": reply}])
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(),
                                                 metadata=payload.get("metadata")))
            except CancelledError:
                logger.error("message from %s timed out", sender)
                return _error(503, "the assistant took too long to answer; please try again")
            except Exception:
                logger.exception("message from %s failed", sender)
                return _error(500, "the assistant failed on this message; please try again")
            return response.json(collector.messages)

        return guarded
