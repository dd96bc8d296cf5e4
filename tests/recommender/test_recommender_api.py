"""The HTTP API in the suite web app: FastAPI's TestClient for the cases, and one run against a
real uvicorn server on a free 127.0.0.1 port."""
from __future__ import annotations

import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

LOCAL = "http://127.0.0.1"  # the web app answers only its own host names
from web_testlib import AUTH, TEST_TOKEN, free_port

from recommender.store import Store
from recommender.web import plugin
from shared.app.web import create_app


def make_app(tmp_path, model_dir):
    config = tmp_path / "nlpsuite.yml"
    config.write_text(f"recommender:\n  model_dir: {model_dir}\n  threads: 1\n", encoding="utf-8")
    return create_app(plugins=[plugin(config)], api_token=TEST_TOKEN)


@pytest.fixture
def client(tmp_path, model_copy):
    with TestClient(make_app(tmp_path, model_copy), headers=AUTH, base_url=LOCAL) as test_client:
        yield test_client


def test_recommend_and_bad_k(client, catalogue):
    response = client.get("/recommender/recommend", params={"user": "football-fan-2", "k": 4})
    assert response.status_code == 200
    body = response.json()
    assert len(body["items"]) == 4 and body["cold_start"] is False
    assert sum(catalogue.topic_of_item[e["item"]] == "football" for e in body["items"]) >= 3
    for k in (0, 101, "ten"):
        bad = client.get("/recommender/recommend", params={"user": "football-fan-2", "k": k})
        assert bad.status_code == 422, k
    assert client.get("/recommender/recommend", params={"k": 3}).status_code == 422  # no user
    assert client.get("/recommender/recommend", params={"user": "x", "mode": "magic"}).status_code == 422


def test_unknown_user_is_flagged_cold_start(client):
    body = client.get("/recommender/recommend", params={"user": "nobody-yet", "k": 5}).json()
    assert body["cold_start"] is True and len(body["items"]) == 5
    assert body["items"][0]["reason"] == "popular with other users"


def test_post_interaction_updates_profile_at_once(client, catalogue, model_copy):
    user = "fresh"
    cooking = [i.id for i in catalogue.items if catalogue.topic_of_item[i.id] == "cooking"]
    for item in cooking[:3]:
        response = client.post("/recommender/interactions",
                               json={"user": user, "item": item, "event": "purchase", "timestamp": "2030-01-01T10:00:00"})
        assert response.status_code == 201, response.text
    assert response.json()["history_size"] == 3
    body = client.get("/recommender/recommend", params={"user": user, "k": 3, "mode": "retrieval"}).json()
    assert body["cold_start"] is False
    assert all(catalogue.topic_of_item[e["item"]] == "cooking" for e in body["items"])
    assert {e["because"] for e in body["items"]} <= set(cooking[:3])
    assert len(Store(model_copy / "store.sqlite").interactions(user)) == 3


def test_bad_interactions_are_4xx_and_write_nothing(client, model_copy):
    before = Store(model_copy / "store.sqlite").count_interactions()
    cases = [
        ({"user": "u", "item": "no-such-item", "event": "view"}, 404, "unknown item 'no-such-item'"),
        ({"user": "u", "item": "sp01", "event": "teleport"}, 422, "unknown event type"),
        ({"user": "u", "item": "sp01", "event": "view", "timestamp": "soon"}, 422, "timestamp"),
        ({"user": "", "item": "sp01", "event": "view"}, 422, "user"),
        ({"item": "sp01", "event": "view"}, 422, "user"),
    ]
    for body, status, text in cases:
        response = client.post("/recommender/interactions", json=body)
        assert response.status_code == status, (body, response.text)
        assert text in response.text
    for number in (b"NaN", b"Infinity", b"-Infinity"):  # Python's json reads them; the API must not store them
        response = client.post("/recommender/interactions", headers={"content-type": "application/json"},
                               content=b'{"user": "u", "item": "sp01", "event": "rate", "rating": ' + number + b"}")
        assert response.status_code == 422 and "rating" in response.text, (number, response.text)
    assert Store(model_copy / "store.sqlite").count_interactions() == before
    assert client.get("/recommender/recommend", params={"user": "u"}).json()["cold_start"] is True


def test_lookup_page_and_health(client):
    page = client.get("/recommender/", params={"user": "space-fan-4", "k": 3})
    assert page.status_code == 200 and "because you liked" in page.text and page.text.count("<li>") == 3
    assert "cold start" in client.get("/recommender/", params={"user": "who"}).text
    assert client.get("/recommender/").status_code == 200
    health = client.get("/health").json()
    assert health["products"]["recommender"]["status"] == "ok"
    assert "/recommender/" in client.get("/").text


def test_missing_model_is_503_and_degraded_health(tmp_path):
    with TestClient(make_app(tmp_path, tmp_path / "absent"), headers=AUTH, base_url=LOCAL) as client:
        response = client.get("/recommender/recommend", params={"user": "u"})
        assert response.status_code == 503 and "no recommender loaded" in response.text
        assert client.get("/health").json()["products"]["recommender"]["status"] == "degraded"


def test_real_server_round_trip(tmp_path, model_copy, catalogue):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(tmp_path, model_copy), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off",
                                           ws="none"))  # Rasa pins an old websockets that uvicorn cannot use
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}/recommender"
        with httpx.Client(base_url=base, timeout=30, headers=AUTH) as http:
            assert http.get("/recommend", params={"user": "live", "k": 3}).json()["cold_start"] is True
            space = [i.id for i in catalogue.items if catalogue.topic_of_item[i.id] == "space"]
            for item in space[:3]:
                assert http.post("/interactions", json={"user": "live", "item": item, "event": "click"}).status_code == 201
            body = http.get("/recommend", params={"user": "live", "k": 3, "mode": "retrieval"}).json()
            assert body["cold_start"] is False and body["history_size"] == 3
            assert all(catalogue.topic_of_item[e["item"]] == "space" for e in body["items"])
            assert http.post("/interactions", json={"user": "live", "item": "x", "event": "click"}).status_code == 404
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"},
                                     {"Authorization": f"Basic {TEST_TOKEN}"}, {"Authorization": "Bearer"}])
def test_writing_an_interaction_needs_the_api_token_and_a_refusal_changes_nothing(tmp_path, model_copy, catalogue,
                                                                                  headers):
    with TestClient(make_app(tmp_path, model_copy), base_url=LOCAL) as anonymous:
        item = catalogue.items[0].id
        refused = anonymous.post("/recommender/interactions", json={"user": "intruder", "item": item, "event": "purchase"},
                                 headers=headers)
        assert refused.status_code == 401 and "API token" in refused.json()["detail"]
        assert refused.headers["www-authenticate"] == "Bearer"
        # a user's recommendations reveal their history: reading them needs the token too
        assert anonymous.get("/recommender/recommend", params={"user": "intruder", "k": 3},
                             headers=headers).status_code == 401
        after = anonymous.get("/recommender/recommend", params={"user": "intruder", "k": 3}, headers=AUTH).json()
        assert after["cold_start"] is True  # the refused write left no trace
        accepted = anonymous.post("/recommender/interactions", json={"user": "intruder", "item": item,
                                                                     "event": "purchase"}, headers=AUTH)
        assert accepted.status_code == 201 and accepted.json()["history_size"] == 1


def test_page_shows_new_items_found_by_text(tmp_path, model_copy):
    from recommender.data import Item
    from recommender.model import Recommender

    Recommender.load(model_copy).add_items([Item("fresh-1", "rocket orbit special", "galaxy and comet edition",
                                                 ("space",))])
    with TestClient(make_app(tmp_path, model_copy), headers=AUTH, base_url=LOCAL) as client:
        page = client.get("/recommender/", params={"user": "space-fan-4", "k": 3}).text
        assert "New for you" in page and "rocket orbit special" in page
        assert "new: similar to " in page and ", which you liked" in page
        body = client.get("/recommender/recommend", params={"user": "space-fan-4", "k": 3, "scope": "new"}).json()
        assert [e["item"] for e in body["items"]] == ["fresh-1"]  # the only new item; k asked for more
        assert client.get("/recommender/recommend", params={"user": "x", "scope": "old"}).status_code == 422


def test_cached_answers_until_the_users_next_interaction(client):
    first = client.get("/recommender/recommend", params={"user": "cooking-fan-1", "k": 3}).json()
    again = client.get("/recommender/recommend", params={"user": "cooking-fan-1", "k": 3}).json()
    assert first["cached"] is False and again["cached"] is True and again["items"] == first["items"]
    item = first["items"][0]["item"]
    assert client.post("/recommender/interactions",
                       json={"user": "cooking-fan-1", "item": item, "event": "view"}).status_code == 201
    after = client.get("/recommender/recommend", params={"user": "cooking-fan-1", "k": 3}).json()
    assert after["cached"] is False and item not in [e["item"] for e in after["items"]]
    stats = client.get("/health").json()["products"]["recommender"]["answer_cache"]
    assert (stats["hits"], stats["misses"]) == (1, 2)  # each request counted once


def test_the_lookup_page_is_an_operator_tool_behind_a_sign_in(tmp_path, model_copy):
    from shared.product.web import OPERATOR_COOKIE, operator_cookie

    with TestClient(make_app(tmp_path, model_copy), base_url=LOCAL) as browser:
        page = browser.get("/recommender/", params={"user": "space-fan-4", "k": 3})
        assert page.status_code == 401 and "because you liked" not in page.text
        assert "/signin?next=%2Frecommender%2F%3Fuser%3Dspace-fan-4" in page.text
        assert "API token" in browser.get("/signin").text
        assert browser.post("/signin", json={"token": "guess", "next": "/recommender/"}).status_code == 401
        assert browser.post("/signin", data={"token": TEST_TOKEN}).status_code == 415  # no form posts (CSRF)
        signed_in = browser.post("/signin", json={"token": TEST_TOKEN, "next": "https://evil.example/"})
        assert signed_in.status_code == 200 and signed_in.json()["next"] == "/"  # never sent elsewhere
        cookie = signed_in.cookies[OPERATOR_COOKIE]
        assert "httponly" in signed_in.headers["set-cookie"].lower()
        assert "samesite=strict" in signed_in.headers["set-cookie"].lower()
        page = browser.get("/recommender/", params={"user": "space-fan-4", "k": 3})
        assert page.status_code == 200 and "because you liked" in page.text
        assert browser.get("/recommender/recommend", params={"user": "space-fan-4"}).status_code == 200
        browser.post("/signout", json={})
        assert browser.get("/recommender/", params={"user": "space-fan-4"}).status_code == 401
    expired = operator_cookie(TEST_TOKEN, now=0)
    forged = cookie.split(".")[0] + "." + "0" * 64
    for value in (expired, forged, "garbage", "9999999999."):
        with TestClient(make_app(tmp_path, model_copy), base_url=LOCAL, cookies={OPERATOR_COOKIE: value}) as c:
            assert c.get("/recommender/recommend", params={"user": "space-fan-4"}).status_code == 401, value
