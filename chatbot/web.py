"""The chatbot's part of the suite web app: the chat page and a proxy to Rasa's REST channel.

The page (static HTML/JS) posts to ``/chatbot/webhook`` on the same origin, which forwards the
request body unchanged to Rasa's ``/webhooks/rest/webhook`` and returns Rasa's answer and
status, so the browser needs no CORS and the guard in chatbot.channels sees every request.
"""
from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from shared.product import WebPlugin, render_page

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024


class SignIn(BaseModel):
    """The body of ``POST /chatbot/signin``: the conversation's sender id (one Rasa issued), the customer
    number and the demo customer's chat-page password; the length limits refuse oversized input (422)."""

    sender: str = Field(..., min_length=1, max_length=200)
    customer: str = Field(..., min_length=1, max_length=20)
    password: str = Field(..., min_length=1, max_length=200)


def _conversation_routes(router: APIRouter, rasa_url: str, transport, token: str | None, verifier) -> None:
    """``/session`` (a new sender id, issued by Rasa) and ``/signin`` (a demo customer's sign-in)."""

    @router.post("/session")
    async def session() -> Response:
        """A new conversation: Rasa issues the signed sender id the page then talks with (the
        suite's token lifts Rasa's per-client limit; the web app's own limit still applies)."""
        try:
            async with httpx.AsyncClient(transport=transport, timeout=30) as client:
                answer = await client.post(f"{rasa_url}/webhooks/rest/session",
                                           params={"token": token} if token else None)
        except httpx.HTTPError as exc:
            return JSONResponse({"error": f"the assistant is not reachable ({type(exc).__name__})"},
                                status_code=502)
        return Response(answer.content, status_code=answer.status_code,
                        media_type=answer.headers.get("content-type", "application/json"))

    @router.get("", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("chatbot/")

    @router.get("/", response_class=HTMLResponse)
    def page() -> str:
        return render_page("support chat", (STATIC / "chat.html").read_text(encoding="utf-8"), active="/chatbot/")

    @router.get("/chat.js")
    def script() -> FileResponse:
        return FileResponse(STATIC / "chat.js", media_type="application/javascript")

    @router.post("/signin")
    def sign_in(body: SignIn) -> JSONResponse:
        """A demo customer signs this conversation in (its sender id must be one Rasa issued):
        the bot then needs no mailed code. Wrong passwords count toward the same lock as codes."""
        from chatbot.bank import parse_customer_id
        from chatbot.senders import is_issued, sender_key
        from chatbot.verification import Outcome

        if verifier is None:
            return JSONResponse({"detail": "sign-in is not set up here"}, status_code=503)
        if not is_issued(sender_key(token) if token else None, body.sender):
            return JSONResponse({"detail": "unknown conversation: reload the page"}, status_code=403)
        customer_id = parse_customer_id(body.customer) or body.customer.strip()[:8]
        outcome = verifier().sign_in(body.sender, customer_id, body.password)
        if outcome is Outcome.VERIFIED:
            return JSONResponse({"customer": customer_id, "name": verifier().bank.customer(customer_id).name})
        if outcome is Outcome.LOCKED:
            return JSONResponse({"detail": "too many wrong tries: ask the assistant for a person"}, status_code=423)
        return JSONResponse({"detail": "wrong customer number or password"}, status_code=401)


def make_router(rasa_url: str, transport: httpx.AsyncBaseTransport | None = None,
                token: str | None = None, verifier=None, settings=None) -> APIRouter:
    """The chatbot's routes, which ``plugin`` mounts under ``/chatbot``: the chat page, new conversations, the
    demo sign-in and the webhook proxy to Rasa; the teach routes only with ``settings``. ``transport`` lets
    tests stand in for Rasa."""
    router = APIRouter()

    _conversation_routes(router, rasa_url, transport, token, verifier)
    if settings is not None:
        from chatbot.teach_web import teach_routes

        teach_routes(router, settings)

    @router.post("/webhook")
    async def webhook(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": f"request body over {MAX_BODY // 1024} KiB"}, status_code=413)
        try:
            async with httpx.AsyncClient(transport=transport, timeout=60) as client:
                answer = await client.post(f"{rasa_url}/webhooks/rest/webhook", content=body,
                                           headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            return JSONResponse({"error": f"the assistant is not reachable ({type(exc).__name__})"},
                                status_code=502)
        return Response(answer.content, status_code=answer.status_code,
                        media_type=answer.headers.get("content-type", "application/json"))

    return router


def _rasa_token(config_path) -> str | None:
    """The suite's API token, which `nlpsuite run` starts Rasa's HTTP API with; None outside the suite."""
    from shared.config import ConfigError
    from shared.product.token import suite_api_token

    try:
        return suite_api_token(config_path, create=False)
    except ConfigError:
        return None


def _verifier(settings):
    """The bank's verifications, opened on first use (a web app without the bank still starts)."""
    from functools import lru_cache

    @lru_cache(maxsize=1)
    def made():
        from chatbot.bank import Bank, seed_demo
        from chatbot.verification import Verifier, seed_demo_logins

        bank = Bank(settings.bank_db)
        seed_demo(bank)
        seed_demo_logins(bank)
        return Verifier(bank, settings.outbox_dir)

    return made


def plugin(config_path=None) -> WebPlugin:
    """The chatbot's part of the suite web app (entry point in chatbot/product.py): its routes under
    ``/chatbot`` and a health check that reports degraded while Rasa is unreachable or has no model loaded."""
    from chatbot.settings import load_settings

    settings = load_settings(config_path)
    rasa_url = settings.rasa_base_url
    token = _rasa_token(config_path)

    def health() -> dict:
        try:
            status = httpx.get(f"{rasa_url}/status", params={"token": token} if token else None, timeout=2).json()
            return {"status": "ok" if status.get("model_file") else "degraded", "rasa": rasa_url}
        except (httpx.HTTPError, ValueError):
            return {"status": "degraded", "rasa": rasa_url, "reason": "Rasa server not reachable"}

    return WebPlugin(name="chatbot", title="Support chatbot",
                     router=make_router(rasa_url, token=token, verifier=_verifier(settings), settings=settings),
                     prefix="/chatbot",
                     pages={"chat": "/chatbot/", "teach the bot (operators)": "/chatbot/teach"}, health=health, nav="Support chat",
                     description="Harbor Bank's assistant (Rasa 3.6): FAQ answers, card and transfer look-ups, "
                                 "card freezing, a person when you want one.")
