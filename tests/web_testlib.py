"""Serving the suite's web app on loopback and opening it in headless Chromium, for the
browser tests of every product (a plain module: import it by name, like core_testlib)."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not shutil.which("chromium"),
                                    reason="Debian's chromium is not installed (make setup)")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TEST_TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


@contextlib.contextmanager
def serve_app(app, timeout_s: float = 30):
    """A real uvicorn server for ``app`` in a thread; yields its base URL once /health answers."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    base = f"http://127.0.0.1:{port}"
    assert server.started and httpx.get(f"{base}/health").status_code == 200
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def chromium_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def processes_with(marker: str) -> list[str]:
    """Command lines of live processes whose environment mentions ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker.encode() in environ and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline}")
    return found


def latest_code(outbox, to: str, after: float = 0.0, timeout_s: float = 30) -> str:
    """The one-time chat code in the newest mail to ``to`` in ``outbox`` written after ``after``
    (a time.time()): what the customer reads in their mailbox."""
    import re
    from email import message_from_bytes, policy

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        mails = sorted((p for p in Path(outbox).glob("*.eml") if p.stat().st_mtime >= after),
                       key=lambda p: p.stat().st_mtime)
        for path in reversed(mails):
            mail = message_from_bytes(path.read_bytes(), policy=policy.default)
            if to in str(mail["To"]) and "chat code" in str(mail["Subject"]):
                return re.search(r"\d{6}", str(mail["Subject"])).group(0)
        time.sleep(0.2)
    raise AssertionError(f"no chat code mailed to {to} in {outbox}")


def status_of_headers_only(url: str, content_length: int) -> int:
    """The status a server answers to a POST's headers alone, announcing ``content_length``
    bytes of body it never gets: a server that refuses large bodies before reading them answers."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.sendall(f"POST {target} HTTP/1.1\r\nHost: {parts.hostname}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {content_length}\r\n\r\n".encode())
        return int(conn.recv(4096).split(b"\r\n", 1)[0].split()[1])


def wait_for(condition, timeout_s: float, what: str, proc=None, log: Path | None = None):
    """``condition()``'s first truthy value within ``timeout_s``; fails the test when a watched
    `nlpsuite run` (``proc``) exits first or time runs out, with the end of its ``log``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"nlpsuite run exited ({proc.returncode}) while waiting for {what}:\n"
                        + (log.read_text()[-4000:] if log else ""))
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}" + (f":\n{log.read_text()[-4000:]}" if log else ""))
