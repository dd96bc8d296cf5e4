"""The recommender's part of the suite web app (recommender/product.py), under /recommender:

- ``GET /recommend?user=U&k=10[&mode=full|retrieval|cooccurrence|popularity][&scope=all|new]``:
  JSON recommendations (``scope=new``: only items nobody has interacted with yet); the reasons
  name the user's history, so it needs the API token like every per-user route
- ``POST /interactions``: one interaction (JSON); stored in SQLite and in the user's profile
  before the response, so the next ``/recommend`` already reflects it
- ``GET /``: a small page to look a user up: an operator tool, behind the suite's sign-in

The recommender folder comes from the ``recommender`` config section and is loaded on first
use, so a missing model does not stop the other products' pages (health says why).

The endpoints are plain functions, which FastAPI runs on its thread pool: the event loop only
parses and sends. Concurrent requests share the model (``Recommender`` takes a readers-writer
lock itself and batches their scorer and FAISS work); under several web workers each has its
own copy and reads the others' new interactions from the folder's store.
"""
from __future__ import annotations

import contextlib
import html
import json
import logging
import threading
import time
from typing import Iterator, Optional, Union
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from recommender.limits import MAX_K, MODES, SCOPES
from shared.errors import NlpSuiteError
from shared.product import WebPlugin, is_operator, render_page, require_token


logger = logging.getLogger(__name__)
NEW_SHELF = 3  # items on the page's "new for you" shelf
SIGN_IN = ("<h1>Recommendations</h1><p class='lead'>Looking a user up shows their recommendations and the "
           "history behind them, so this page is an operator tool.</p>"
           "<p><a class='button' href='/signin?next={next}'>Sign in with the suite's API token</a></p>")


class InteractionIn(BaseModel):
    """The body of ``POST /interactions``; pydantic rejects a missing field or a NaN with 422 before
    anything is stored."""

    user: str = Field(..., min_length=1, max_length=200)
    item: str = Field(..., min_length=1, max_length=200)
    event: str = Field(..., min_length=1, max_length=40)
    timestamp: Optional[Union[float, str]] = None
    """Unix seconds or ISO 8601; default: now."""
    rating: Optional[float] = None

    class Config:
        allow_inf_nan = False  # NaN or Infinity in a number: 422, never stored


class _State:
    """The recommender of this web worker, loaded once on first use."""

    def __init__(self, config_path):
        self.config_path = config_path
        self.lock = threading.Lock()
        self._model = None
        self._settings = None

    @property
    def settings(self):
        if self._settings is None:
            from recommender.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def loaded(self):
        """The model if it is loaded, else None (never loads: safe on the event loop)."""
        return self._model

    def model(self):
        with self.lock:  # two first requests must not load the folder twice
            if self._model is None:
                from recommender.model import Recommender

                self._model = Recommender.load(self.settings.model_dir, threads=self.settings.threads,
                                               cache_ttl_s=self.settings.cache_ttl_s,  # ModelFolderError: 503
                                               store_url=self.settings.store_url)
            return self._model


def _items(entries: list[dict]) -> str:
    e = html.escape
    return "<ol class='recs'>" + "".join(
        f"<li><b>{e(r['title'])}</b> <small>({e(r['item'])}, score {r['score']:.3f})"
        f"</small><br><i class='muted'>{e(r['reason'])}</i></li>" for r in entries) + "</ol>"


def _page(user: str, k: int, result: dict | None, error: str | None, shelf: dict | None = None) -> str:
    e = html.escape
    rows = ""
    if result:
        flag = "<p><span class='badge pending'>new user</span> popular items (cold start)</p>" \
            if result["cold_start"] else ""
        rows = flag + _items(result["items"])
        if shelf and shelf["items"]:
            rows += ("<h2>New for you</h2><p class='muted'>Items nobody has rated yet, found by their text "
                     "alone.</p>" + _items(shelf["items"]))
    if error:
        rows = f"<p class='error'>{e(error)}</p>"
    body = (
        "<h1>Recommendations</h1><p class='lead'>The items a user is most likely to want next, each with the "
        "reason it was chosen.</p><form class='inline card' method='get'>"
        f"<label>user<br><input name='user' value='{e(user)}' required></label> "
        f"<label>k<br><input name='k' type='number' min='1' max='{MAX_K}' value='{k}'></label> "
        "<button type='submit'>look up</button></form>"
        f"{rows}")
    return render_page("recommendations", body, active="/recommender/")


def _status_of(error: NlpSuiteError) -> int:
    """The HTTP status of an error, by its type (never by its message): the first row of the
    table below the error is an instance of, else 500: the server's own problem."""
    from recommender.model import RecommenderError
    from recommender.store import UnknownItemError
    from shared.config import ConfigError
    from shared.data import DataError
    from shared.model_dir import ModelFolderError

    table = ((UnknownItemError, 404), (ModelFolderError, 503), (ConfigError, 503), (RecommenderError, 422),
             (DataError, 422))
    return next((status for kind, status in table if isinstance(error, kind)), 500)


@contextlib.contextmanager
def _as_http() -> Iterator[None]:
    """The web edge: a typed error becomes its status code, with its message as the detail."""
    try:
        yield
    except NlpSuiteError as exc:
        status = _status_of(exc)
        raise HTTPException(status, f"no recommender loaded: {exc}" if status == 503 else str(exc)) from None


def plugin(config_path=None) -> WebPlugin:
    """The recommender's routes, page and health for the suite's web app."""
    state = _State(config_path)

    def load_at_startup() -> None:
        """Each web worker loads its model as it starts, not on a user's first request (a few
        seconds: the EASE weights and the scorer's session); a missing folder waits for later."""
        try:
            state.model()
        except Exception as exc:  # reported by /health; the other products still start
            logger.warning("recommender not loaded at startup: %s", exc)

    router = APIRouter(on_startup=[load_at_startup])
    _api_routes(router, state)
    _page_route(router, state)

    def health() -> dict:
        try:
            model = state.model()
        except Exception as exc:  # a missing folder or a broken config section: report, do not crash the app
            return {"status": "degraded", "error": f"no recommender loaded: {exc}"}
        return {"status": "ok", "items": len(model.items), "users": len(model.histories),
                "scorer": model.scorer is not None, "answer_cache": model.cache.stats()}

    return WebPlugin(name="recommender", title="Recommender", router=router, prefix="/recommender",
                     pages={"look a user up": "/recommender/"}, health=health, nav="Recommendations",
                     description="k items for a user, from FAISS retrieval over item texts and a "
                                 "fine-tuned relevance scorer, each with its reason.")


def _api_routes(router: APIRouter, state: _State) -> None:
    """``GET /recommend`` and ``POST /interactions``, both behind the API token."""
    from recommender.data import Interaction, parse_timestamp

    @router.get("/recommend", dependencies=[Depends(require_token)])
    async def recommend(user: str = Query(..., min_length=1, max_length=200),
                        k: int = Query(10, ge=1, le=MAX_K), mode: str = Query("full"),
                        scope: str = Query("all")) -> Response:
        """A cached answer straight from the event loop (a lookup); anything else, loading the
        model included, on the thread pool. Serialised once here: FastAPI's encoder walks
        every value again, a measurable share of a cached answer's cost."""
        if mode not in MODES:
            raise HTTPException(422, f"mode must be one of {', '.join(MODES)}")
        if scope not in SCOPES:
            raise HTTPException(422, f"scope must be one of {', '.join(SCOPES)}")
        with _as_http():
            model = state.loaded or await run_in_threadpool(state.model)
            answer = model.cached_answer(user, k, mode, scope)
            if answer is None:
                answer = await run_in_threadpool(model.recommend, user, k, mode, scope)
        return Response(json.dumps(answer, ensure_ascii=False), media_type="application/json")

    @router.post("/interactions", status_code=201, dependencies=[Depends(require_token)])
    def add_interaction(body: InteractionIn) -> dict:
        """One interaction, stored and in the user's profile before the answer (unknown item: 404)."""
        try:
            timestamp = time.time() if body.timestamp is None else parse_timestamp(str(body.timestamp))
        except ValueError:
            raise HTTPException(422, f"field 'timestamp': not a timestamp: {body.timestamp!r}") from None
        row = Interaction(body.user, body.item, body.event.lower(), timestamp, body.rating)
        with _as_http():
            model = state.model()
            model.add_interaction(row)
        return {"stored": row.to_dict(), "history_size": len(model.histories[row.user])}


def _page_route(router: APIRouter, state: _State) -> None:
    """``GET /``: the operator's lookup page (a stranger gets the sign-in page, 401)."""

    @router.get("/", response_class=HTMLResponse)
    def page(request: Request, user: str = "", k: int = 10) -> Response:
        if not is_operator(request):  # a user's recommendations reveal their history: operators only
            target = quote(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""), safe="")
            return HTMLResponse(render_page("recommendations", SIGN_IN.format(next=target), active="/recommender/"),
                                status_code=401)
        result = shelf = error = None
        if user:
            if not 1 <= k <= MAX_K:
                error = f"k must be from 1 to {MAX_K}"
            else:
                try:
                    model = state.model()
                    result = model.recommend(user, k)
                    if not result["cold_start"] and model.new_items()[0]:
                        shelf = model.recommend(user, NEW_SHELF, scope="new")
                except NlpSuiteError as exc:
                    error = f"no recommender loaded: {exc}" if _status_of(exc) == 503 else str(exc)
        return _page(user, k, result, error, shelf)
