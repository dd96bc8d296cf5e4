"""Operator sign-in: the pages that show one person's data (a user's recommendations and the
history behind them) are operator tools, open only to whoever holds the suite's API token.

``GET /signin`` is a form; its script posts the token as JSON to ``POST /signin`` (the
``RequestGuard`` takes no form posts, so no other site can submit it), which sets an HttpOnly,
SameSite=Strict cookie signed with the token (``shared.product.web.operator_cookie``) for
``OPERATOR_HOURS``. ``POST /signout`` drops it.
"""
from __future__ import annotations

import html
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from shared.product.web import OPERATOR_COOKIE, OPERATOR_HOURS, operator_cookie, render_page, token_matches

FORM = """<h1>Operator sign-in</h1>
<p class='lead'>{why}</p>
<form id='signin' class='card'><label>API token<br><input id='token' type='password' autocomplete='off'
 required size='50'></label> <button type='submit'>sign in</button><p id='error' class='error'></p></form>
<p class='muted'><code>nlpsuite token</code> prints the token on the machine that runs the suite.</p>
<script>
document.getElementById('signin').addEventListener('submit', async (event) => {{
  event.preventDefault();
  const response = await fetch('/signin', {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
    body: JSON.stringify({{token: document.getElementById('token').value, next: {next}}})}});
  const answer = await response.json();
  if (response.ok) {{ window.location = answer.next; }}
  else {{ document.getElementById('error').textContent = answer.detail; }}
}});
</script>"""


class SignIn(BaseModel):
    token: str
    next: str = "/"


def safe_next(target: str) -> str:
    """Only a path on this site: a sign-in never sends the browser elsewhere."""
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not (parts.path or "/").startswith("/") or target.startswith("//"):
        return "/"
    return target


def script_string(value: str) -> str:
    """``value`` as a JavaScript string literal that is safe inside <script>: no ``<``, ``>`` or
    ``&`` survive, so no ``</script>`` can end the block (HTML escaping would corrupt the value)."""
    import json

    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def signin_page(next_path: str, why: str = "Sign in to see pages with one person's data.") -> str:
    return render_page("sign in", FORM.format(why=html.escape(why), next=script_string(safe_next(next_path))))


def signin_router() -> APIRouter:
    router = APIRouter()

    @router.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    def form(next: str = "/") -> str:  # noqa: A002 (the query parameter's name)
        return signin_page(next)

    @router.post("/signin")
    def sign_in(body: SignIn, request: Request) -> JSONResponse:
        token = request.app.state.api_token
        if not token_matches(f"Bearer {body.token}", token):
            return JSONResponse({"detail": "wrong API token"}, status_code=401)
        response = JSONResponse({"next": safe_next(body.next)})
        response.set_cookie(OPERATOR_COOKIE, operator_cookie(token), max_age=OPERATOR_HOURS * 3600, httponly=True,
                            samesite="strict", path="/")
        return response

    @router.post("/signout")
    def sign_out() -> JSONResponse:
        response = JSONResponse({"next": "/"})
        response.delete_cookie(OPERATOR_COOKIE, path="/")
        return response

    return router
