"""Fixtures for the news monitor: a tiny sentiment model fine-tuned here in seconds, a real HTTP
server serving feeds, a real SMTP server (aiosmtpd), and configs pointing at temp folders."""
from __future__ import annotations

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import shared  # noqa: E402,F401  (offline environment first)

import threading  # noqa: E402
import time  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from fin_testlib import FeedServer, Route, SmtpServer, build_sentiment_model, free_port  # noqa: E402


@pytest.fixture(scope="session")
def sentiment_model(tmp_path_factory) -> Path:
    """A 2-layer BERT (hidden 64) with a vocab made of the headline words, fine-tuned on
    synthetic negative/neutral/positive headlines: a real calibrated model folder in seconds."""
    return build_sentiment_model(tmp_path_factory.mktemp("fin_tiny_base"),
                                 tmp_path_factory.mktemp("fin_tiny_model") / "sentiment")


@pytest.fixture(scope="session")
def loaded_sentiment(sentiment_model):
    from finsentiment.classify import SentimentModel

    return SentimentModel(sentiment_model, "torch", threads=1)


@pytest.fixture
def feed_server():
    """A real ThreadingHTTPServer on a free 127.0.0.1 port; tests fill ``routes``. It honours
    If-None-Match / If-Modified-Since with 304, like a well-behaved news site."""
    routes: dict[str, Route] = {}
    log: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            route = routes.get(self.path)
            headers = {k: v for k, v in self.headers.items()}
            if route is None:
                log.append((self.path, 404, headers))
                self.send_error(404)
                return
            if route.delay_s:
                time.sleep(route.delay_s)
            not_modified = ((route.etag and self.headers.get("If-None-Match") == route.etag)
                            or (route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified))
            status = 304 if not_modified else route.status
            log.append((self.path, status, headers))
            try:
                self.send_response(status)
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                if status == 304:
                    self.end_headers()
                    return
                self.send_header("Content-Type", route.content_type)
                if route.encoding:
                    self.send_header("Content-Encoding", route.encoding)
                if route.length:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if not route.trickle_s:
                    self.wfile.write(route.body)
                    return
                for start in range(0, len(route.body), 100):
                    self.wfile.write(route.body[start:start + 100])
                    self.wfile.flush()
                    time.sleep(route.trickle_s)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FeedServer(f"http://127.0.0.1:{server.server_address[1]}", routes, log)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free port, not started: tests start it (or start it late)."""
    server = SmtpServer(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_config(tmp_path, sentiment_model):
    """A FinSentimentConfig with temp database/outbox and the tiny model; keyword overrides."""
    from finsentiment.config import FinSentimentConfig

    def make(**overrides):
        values = dict(
            feeds=[], recipients=["analyst@example.com", "desk@example.com"],
            topics=[{"name": "Nokia", "keywords": ["Nokia"], "tickers": ["NOK"]},
                    {"name": "Banks", "keywords": ["Nordea", "bank"]}],
            alerts={"window_hours": 6, "min_items": 4, "negative_share": 0.5, "min_deviation": 0.2,
                    "repeat_hours": 12, "cooldown_minutes": 30},
            database_url=f"sqlite:///{tmp_path / 'monitor.db'}", outbox_dir=str(tmp_path / "outbox"),
            model_dir=str(sentiment_model), backend="torch", threads=1,
            smtp={"host": "127.0.0.1", "port": 25, "retries": 2, "backoff_s": 0.01, "timeout_s": 3,
                  "sender": "monitor@example.com"},
        )
        values.update(overrides)
        return FinSentimentConfig.parse_obj(values)

    return make
