"""The operator's page for teaching the running bot (``/chatbot/teach``), and its JSON API.

- ``GET /chatbot/teach``: the taught intents and a form to teach one more (operators only: the
  suite's sign-in or API token);
- ``POST /chatbot/api/teach`` ``{"intent", "examples": [...], "answer"}``: what `nlpsuite chatbot
  teach` does (``chatbot.teach``); 422 names the field that is wrong, and nothing changes;
- ``DELETE /chatbot/api/teach/{intent}``: takes a taught intent out again.

The writes need the token, checked by the app's guard before the body is read.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import List
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field

from shared.errors import NlpSuiteError
from shared.product import is_operator, render_page, require_token

STATIC = Path(__file__).resolve().parent / "static"
SIGN_IN = ("<h1>Teach the bot</h1><p class='lead'>Teaching changes what the bot answers every customer, "
           "so this page is an operator tool.</p>"
           "<p><a class='button' href='/signin?next={next}'>Sign in with the suite's API token</a></p>")


class TeachRequest(BaseModel):
    """The body of ``POST /chatbot/api/teach``; the limits are ``chatbot.teach``'s, checked there
    for the CLI and the page alike (a 422 names the field)."""

    intent: str = Field(..., max_length=200)
    examples: List[str] = Field(..., max_items=1000)
    answer: str = Field(..., max_length=20000)


def _taught_table(store) -> str:
    rows = "".join(
        f"<tr><td><code>{html.escape(t.name)}</code></td><td>{len(t.examples)}</td><td>{html.escape(t.answer)}</td>"
        f"<td>{html.escape(t.taught_at)}</td><td><button class='remove' data-intent='{html.escape(t.name)}'>"
        "Remove</button></td></tr>" for t in store.load().values())
    return ("<table><tr><th>intent</th><th>examples</th><th>answer</th><th>taught</th><th></th></tr>"
            f"{rows}</table>" if rows else "<p class='muted'>Nothing taught yet.</p>")


def teach_routes(router: APIRouter, settings) -> None:
    """Adds the teach page and its API to the chatbot's router (make_router does, when it has the settings).
    The page is for operators only and the writes need the suite's token; both change the served model in
    ``chatbot.classifier.model`` (else var/models/intents) and the taught store."""
    from chatbot.teach import DEFAULT_STORE, TaughtStore, remove_intent, teach_intent

    store = TaughtStore(settings.taught_store or DEFAULT_STORE)
    model = settings.classifier.model or "var/models/intents"

    @router.get("/teach", response_class=HTMLResponse)
    def teach_page(request: Request) -> Response:
        if not is_operator(request):
            target = quote(str(request.url.path), safe="")
            return HTMLResponse(render_page("teach the bot", SIGN_IN.format(next=target), active="/chatbot/"),
                                status_code=401)
        form = (STATIC / "teach.html").read_text(encoding="utf-8")
        return HTMLResponse(render_page("teach the bot", form.replace("{taught}", _taught_table(store)),
                                        active="/chatbot/"))

    @router.get("/teach.js", include_in_schema=False)
    def teach_script() -> FileResponse:
        return FileResponse(STATIC / "teach.js", media_type="application/javascript")

    @router.post("/api/teach", dependencies=[Depends(require_token)])
    async def teach(body: TeachRequest) -> dict:
        from chatbot.intents import load_intent_data

        examples = list(dict.fromkeys(e.strip() for e in body.examples if e.strip()))
        try:
            return await run_in_threadpool(lambda: teach_intent(store, model, body.intent.strip(), examples, body.answer,
                                                                training=load_intent_data()["train"], threads=2))
        except NlpSuiteError as exc:  # a bad request or a model that cannot be taught: nothing changed
            raise HTTPException(422, str(exc)) from None

    @router.delete("/api/teach/{intent}", dependencies=[Depends(require_token)])
    async def forget(intent: str) -> dict:
        from chatbot.intents import load_intent_data

        if intent not in store.load():
            raise HTTPException(404, f"{intent!r} is not a taught intent")
        try:
            return await run_in_threadpool(lambda: remove_intent(store, model, intent, threads=2,
                                                                 training=load_intent_data()["train"]))
        except NlpSuiteError as exc:
            raise HTTPException(422, str(exc)) from None
