"""The web app's front door (shared.app.guard) as a stranger meets it: a real app with a token
route and an open route, through FastAPI's TestClient and, for the byte-level cases, a raw socket
against a real uvicorn server."""
from __future__ import annotations

import socket

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel
from web_testlib import AUTH, TEST_TOKEN, serve_app

from shared.app.guard import ClientRateLimit, host_name
from shared.app.web import create_app
from shared.product import WebPlugin, require_token

LOCAL = "http://127.0.0.1"


class Note(BaseModel):
    text: str


def _app(tmp_path, per_minute: int = 120):
    read = []
    router = APIRouter()

    @router.post("/notes", dependencies=[Depends(require_token)])
    def add_note(note: Note) -> dict:
        read.append(note.text)
        return {"stored": note.text}

    @router.post("/echo")
    def echo(note: Note) -> dict:
        read.append(note.text)
        return {"echo": note.text}

    config = tmp_path / "nlpsuite.yml"
    config.write_text(f"suite:\n  var_dir: {tmp_path / 'var'}\n  client_requests_per_minute: {per_minute}\n"
                      "  allowed_hosts: [suite.example]\n")
    plugin = WebPlugin(name="notes", title="Notes", router=router, prefix="/t")
    return create_app(config, plugins=[plugin], api_token=TEST_TOKEN), read


def test_the_token_is_checked_before_the_body_is_read(tmp_path):
    app, read = _app(tmp_path)
    client = TestClient(app, base_url=LOCAL)
    malformed = client.post("/t/notes", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 401 and malformed.headers["www-authenticate"] == "Bearer"
    assert client.post("/t/notes", json={"text": "x"}, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/t/notes", json={"text": "x"}, headers={"authorization": TEST_TOKEN}).status_code == 401
    assert read == []
    assert client.post("/t/notes", json={"text": "kept"}, headers=AUTH).json() == {"stored": "kept"}
    assert client.post("/t/notes", content=b"{not json", headers=AUTH | {"content-type": "application/json"}
                       ).status_code == 422  # with the token, a bad body is the caller's to fix


def test_malformed_credentials_are_a_401_not_a_500(tmp_path):
    app, read = _app(tmp_path)
    with serve_app(app) as base:
        port = int(base.rsplit(":", 1)[1])
        for header in (b"Bearer \xc3\xa9\xff", b"Bearer " + "é".encode("latin-1"), b"\xff\xfe", b"Bearer"):
            request = (b"POST /t/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       b"Authorization: " + header + b"\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
                       b'{"text":"x"}')
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(request)
                status_line = conn.recv(4096).split(b"\r\n", 1)[0]
            assert b" 401 " in status_line, (header, status_line)
    assert read == []


def test_foreign_host_names_and_cross_site_posts_are_refused(tmp_path):
    app, read = _app(tmp_path)
    client = TestClient(app, base_url=LOCAL)
    assert client.get("/health", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/health", headers={"host": "evil.example:8000"}).status_code == 400
    assert client.get("/health", headers={"host": "suite.example:8000"}).status_code == 200  # allowed_hosts
    assert client.get("/health", headers={"host": "localhost:8000"}).status_code == 200
    as_form = client.post("/t/echo", content=b'{"text": "x"}', headers={"content-type": "text/plain"})
    assert as_form.status_code == 415
    foreign = client.post("/t/echo", json={"text": "x"}, headers={"origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert client.post("/t/echo", json={"text": "x"}, headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert read == []
    assert client.post("/t/echo", json={"text": "same"}, headers={"origin": LOCAL}).json() == {"echo": "same"}


def test_oversized_bodies_are_refused_declared_or_streamed(tmp_path):
    app, read = _app(tmp_path)
    client = TestClient(app, base_url=LOCAL)
    big = b'{"text": "' + b"x" * (1024 * 1024) + b'"}'
    assert client.post("/t/echo", content=big, headers={"content-type": "application/json"}).status_code == 413

    def chunks():
        yield b'{"text": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    streamed = client.post("/t/echo", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and read == [], streamed.text


def test_one_client_has_one_budget_whatever_sender_ids_it_uses(tmp_path):
    app, read = _app(tmp_path, per_minute=20)
    client = TestClient(app, base_url=LOCAL)
    statuses = [client.post("/t/echo", json={"text": f"sender-{i}"}).status_code for i in range(30)]
    assert statuses.count(200) == 20 and statuses.count(429) == 10
    assert client.get("/health").status_code == 200  # reading is not limited


def test_the_rate_limit_window_slides():
    now = [0.0]
    limit = ClientRateLimit(2, clock=lambda: now[0])
    assert limit.retry_after("a") is None and limit.retry_after("a") is None
    assert limit.retry_after("a") == 61 and limit.retry_after("b") is None
    now[0] = 60.5
    assert limit.retry_after("a") is None


@pytest.mark.parametrize("header,name", [("127.0.0.1:8000", "127.0.0.1"), ("[::1]:8000", "::1"),
                                         ("LocalHost", "localhost"), ("::1", "::1"), ("", "")])
def test_host_names_lose_their_port(header, name):
    assert host_name(header) == name


def test_the_sign_in_page_keeps_its_next_path_and_cannot_be_scripted(tmp_path):
    from urllib.parse import quote

    app, _ = _app(tmp_path)
    client = TestClient(app, base_url=LOCAL)
    evil = "/recommender/?user=a&k=3</script><script>alert(1)</script>"
    page = client.get(f"/signin?next={quote(evil, safe='')}").text
    assert "<script>alert(1)" not in page and "\\u0026k=3" in page  # the & survives as itself in the script
    assert '"/"' in client.get(f"/signin?next={quote('https://evil.example/x', safe='')}").text  # never elsewhere


def test_each_web_worker_takes_its_share_of_a_client_s_budget(monkeypatch):
    from shared.app.web import WORKERS_ENV, web_service, worker_share

    monkeypatch.setenv(WORKERS_ENV, "2")
    assert worker_share(60) == 30 and worker_share(1) == 1
    monkeypatch.delenv(WORKERS_ENV)
    assert worker_share(60) == 60
    assert web_service("127.0.0.1", 8000, workers=3).env[WORKERS_ENV] == "3"


def test_only_a_bodiless_delete_may_come_without_the_json_content_type(tmp_path):
    app, read = _app(tmp_path)
    client = TestClient(app, base_url=LOCAL)
    empty_post = client.post("/t/notes", headers=AUTH | {"content-length": "0"})
    assert empty_post.status_code == 415  # a cross-site form posts exactly this
    assert client.delete("/t/notes", headers=AUTH).status_code != 415  # no body, no type to check
