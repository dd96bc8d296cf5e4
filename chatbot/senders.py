"""Sender ids the server issues and signs, so that a client can only speak in its own
conversation: ``<name>.<signature>``, the signature an HMAC of the name under a key derived
from the suite's API token. Rasa's REST channel (``chatbot.channels``) refuses any other id
when it has the key; ``POST /webhooks/rest/session`` (and the chat page's ``/chatbot/session``)
hand out new ones.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Optional

SIGNATURE_CHARS = 32


def sender_key(api_token: str) -> bytes:
    """The signing key: derived from the API token, so one secret serves both and a new token
    ends every old conversation id."""
    return hmac.new(api_token.encode("utf-8"), b"nlpsuite sender ids", hashlib.sha256).digest()


def _signature(key: bytes, name: str) -> str:
    return hmac.new(key, name.encode("utf-8"), hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]


def issue(key: bytes, prefix: str = "chat") -> str:
    """A new sender id: ``<prefix>-<24 random hex>.<signature>``."""
    name = f"{prefix}-{secrets.token_hex(12)}"
    return f"{name}.{_signature(key, name)}"


def is_issued(key: Optional[bytes], sender: str) -> bool:
    """Whether ``sender`` carries a valid signature (always True without a key: a bot run
    outside the suite, with no API token, takes any id as Rasa does)."""
    if key is None:
        return True
    name, _, signature = sender.rpartition(".")
    return bool(name) and hmac.compare_digest(signature.encode("utf-8", "surrogateescape"),
                                              _signature(key, name).encode())


def request_sender(rasa_url: str, token: Optional[str] = None, timeout: float = 30) -> str:
    """A new sender id from a running bot's REST channel (``token``: the suite's API token,
    which lifts the per-client limit on new conversations)."""
    import httpx

    answer = httpx.post(f"{rasa_url}/webhooks/rest/session", params={"token": token} if token else None,
                        timeout=timeout)
    answer.raise_for_status()
    return answer.json()["sender"]
