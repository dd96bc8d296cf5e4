"""Who may call what, and what each mail failure costs: bench/results/security.json.

    python -m bench.security [--profile quick] [--parts endpoints,probes,delivery]

**endpoints**: starts a suite of its own (`nlpsuite run` in bench/work/security, own ports,
see bench/suite.py) and calls every route of every service without credentials, then with a
wrong token. The routes are read from the applications themselves, built from the suite's own
files: Rasa's Sanic app with the channels of the generated credentials.yml, rasa-sdk's app and
the FastAPI web app. So a route added later is probed too, and fails the run if it is open
without being on the list of public routes below. Path parameters get a made-up id; bodies are
empty JSON objects (a refusal must come before the body is read).

**probes**: a stranger's requests against the same live suite (malformed credentials, a body
before the token, oversized bodies, NaN, a foreign Host or Origin, a text/plain cross-site post,
a burst from one client under 80 sender ids, a user's data without credentials), the monitor
killed 4 times in 2 minutes while a client chats and asks for recommendations, a hostile feed
server (gzip bomb, endless trickle, huge body, entity expansion) and two pollers delivering one
queue at once (bench.security_probes); each a row with name, expected, observed and ok.

**delivery**: the sentiment monitor against a real SMTP server (aiosmtpd on loopback) in five
scenarios; for each, the mails the server accepted per alert group and kind, and each alert's
final status and tries. The classifier is the suite's quick sentiment model.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import socket
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from bench.common import WORK, update_results
from bench.suite import Ports, prepared_models, start_suite

logger = logging.getLogger("bench.security")
PORTS = Ports(web=8111, outbox=8027, rasa=5007, actions=5057)
PROBE_ID = "security-probe"
REFUSED = (401, 403)

# Open by design; every other route must refuse a caller without the token.
PUBLIC = {
    "rasa": {("GET", "/"), ("GET", "/version"),  # hello and version: no data
             ("POST", "/webhooks/rest/webhook"), ("GET", "/webhooks/rest"),  # the REST channel: the front door
             ("POST", "/webhooks/rest/session")},  # issues sender ids (a few a minute without the token)
    "actions": {("GET", "/health")},  # readiness probe
    # the web app on loopback: pages, read-only JSON, the chat and its proxy to the REST channel,
    # the operator sign-in (it takes the token itself)
    "web": {"GET", ("POST", "/chatbot/webhook"), ("POST", "/chatbot/session"), ("POST", "/chatbot/signin"),
            ("POST", "/signin"), ("POST", "/signout")},
}
# ... but not these: a user's recommendations reveal their history
PRIVATE = {"web": {("GET", "/recommender/recommend"), ("GET", "/recommender/")}}


def _is_public(service: str, method: str, path: str) -> bool:
    rules = PUBLIC[service]
    if (method, path) in PRIVATE.get(service, set()):
        return False
    return (method, path) in rules or method in rules


def _fill(path: str) -> str:
    """A route template with its parameters filled in (Sanic ``<x:path>``, FastAPI ``{x}``)."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", PROBE_ID, path)


def rasa_routes(project: Path) -> list[tuple[str, str]]:
    """Rasa's routes as `rasa run --enable-api --auth-token` builds them, with the suite's channels."""
    from rasa.core.run import configure_app, create_http_input_channels

    cwd = os.getcwd()
    os.chdir(project)  # the custom channel's module and credentials.yml are relative to the project
    try:
        channels = create_http_input_channels(None, "credentials.yml")
        app = configure_app(channels, auth_token="probe-token-0123456789", enable_api=True, port=PORTS.rasa)
    finally:
        os.chdir(cwd)
    return sorted({(m, "/" + r.path) for r in app.router.routes for m in r.methods if m != "OPTIONS"})


def action_routes() -> list[tuple[str, str]]:
    from rasa_sdk.endpoint import create_app

    app = create_app("chatbot.actions", cors_origins=[])
    return sorted({(m, "/" + r.path) for r in app.router.routes for m in r.methods if m != "OPTIONS"})


def web_routes(config: Path) -> list[tuple[str, str]]:
    from shared.app.web import create_app

    app = create_app(config, api_token="probe-token-0123456789")
    return sorted({(m, r.path) for r in app.routes for m in (getattr(r, "methods", None) or ())
                   if m not in ("HEAD", "OPTIONS")})


def probe(base: str, routes: list[tuple[str, str]], service: str, token_param: str | None) -> list[dict]:
    """Each route without credentials and with a wrong one; ``ok`` when the outcome is the policy's."""
    rows = []
    with httpx.Client(timeout=30) as client:
        for method, path in routes:
            url = base + _fill(path)
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            status = client.request(method, url, **body).status_code
            wrong = ({"params": {token_param: "wrong-token-0123456789"}} if token_param
                     else {"headers": {"Authorization": "Bearer wrong-token-0123456789"}})
            wrong_status = client.request(method, url, **body, **wrong).status_code
            public = _is_public(service, method, path)
            ok = (status not in REFUSED) if public else (status in REFUSED and wrong_status in REFUSED)
            rows.append({"method": method, "path": path, "public": public, "status": status,
                         "wrong_token_status": wrong_status, "ok": ok})
    return rows


def endpoints(profile: str, probes: bool = True) -> tuple[dict, list[dict]]:
    """Every route without and with a wrong token; with ``probes`` also the stranger's requests
    and the crash loop of bench.security_probes, against the same live suite."""
    from bench.security_probes import crash_loop_probe, request_probes

    root = WORK / "security"
    suite = start_suite(root, PORTS, profile)
    rows = []
    try:
        token = suite.api_token()
        if probes:
            rows += request_probes(PORTS.url("web"), PORTS.url("actions"), PORTS.web, token)
            rows.append(crash_loop_probe(PORTS.url("web"), PORTS.url("rasa"), suite.logs, token))
        project = suite.var / "chatbot" / "project"
        services = {
            "rasa": probe(PORTS.url("rasa"), rasa_routes(project), "rasa", "token"),
            "actions": probe(PORTS.url("actions"), action_routes(), "actions", "token"),
            "web": probe(PORTS.url("web"), web_routes(suite.config), "web", None),
        }
        # the token itself opens the doors it should: Rasa's tracker API, the web app's write endpoint
        with_token = {
            "rasa GET /conversations/{id}/tracker": httpx.get(
                f"{PORTS.url('rasa')}/conversations/{PROBE_ID}/tracker", params={"token": token}).status_code,
            "web POST /recommender/interactions (empty body)": httpx.post(
                f"{PORTS.url('web')}/recommender/interactions", json={},
                headers={"Authorization": f"Bearer {token}"}).status_code,
        }
        token_file = suite.var / "secrets" / "api-token"
        secrets = {"token_file_mode": oct(token_file.stat().st_mode & 0o777),
                   "token_in_effective_config": token in (suite.var / "nlpsuite.effective.yml").read_text()
                   if (suite.var / "nlpsuite.effective.yml").is_file() else False,
                   "token_in_logs": any(token in p.read_text(errors="replace") for p in suite.logs.glob("*")
                                        if p.is_file()),
                   "token_in_process_list": _token_in_process_list(token)}
    finally:
        suite.stop()
    routes = [r for service in services.values() for r in service]
    return {"services": services, "with_token": with_token, "secrets": secrets,
            "routes": len(routes), "refused_without_token": sum(not r["public"] and r["ok"] for r in routes),
            "public": sum(r["public"] for r in routes), "violations": [r for r in routes if not r["ok"]]}, rows


def _token_in_process_list(token: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if token.encode() in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


# --- delivery -------------------------------------------------------------------------------

NEGATIVE = ["Nokia shares plunge after profit warning", "Nokia cuts 5,000 jobs as sales collapse",
            "Nokia posts heavy quarterly loss", "Nokia warns of weaker demand and falling margins"]
POSITIVE = ["Nokia wins record network order", "Nokia raises its full-year outlook",
            "Nokia operating profit rises sharply", "Nokia shares jump on strong results"]


class _Clock:
    def __init__(self):
        self.now = datetime(2024, 3, 4, 9, 0, 0)

    def __call__(self):
        return self.now


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """aiosmtpd on loopback that can refuse a recipient, answer DATA with a code, require a login."""

    def __init__(self, *, rcpt_reply: str | None = None, data_reply: str | None = None,
                 logins: dict[str, str] | None = None):
        self.port, self.accepted, self.controller = _free_port(), [], None
        self.rcpt_reply, self.data_reply, self.logins = rcpt_reply, data_reply, logins

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802 (aiosmtpd hook)
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        if self.data_reply:
            return self.data_reply
        from email import message_from_bytes, policy

        self.accepted.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = self.logins.get(auth_data.login.decode()) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False)

    def start(self) -> "_Server":
        from aiosmtpd.controller import Controller

        options = ({"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
                   if self.logins else {})
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def kinds(self) -> list[str]:
        """The accepted mails in order: FIRING or RESOLVED (one alert group in every scenario)."""
        return ["FIRING" if "FIRING" in mail["Subject"] else "RESOLVED" for mail in self.accepted]

    def mails(self) -> dict:
        counts: dict[str, int] = {}
        for kind in self.kinds():
            counts[kind] = counts.get(kind, 0) + 1
        return counts


def _rss(titles: list[tuple[str, str]]) -> bytes:
    items = "".join(f"<item><title>{t}</title><link>https://news.example/{i}</link><guid>{i}</guid></item>"
                    for i, t in titles)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>wire</title>{items}</channel></rss>'.encode()


def _scenario(folder: Path, sentiment, server: _Server, *, outage_polls: int = 0, user: str | None = None,
              password: str | None = None, fix: dict | None = None, recover: bool = False) -> dict:
    """A Nokia spike (fresh bad news every hour for ``outage_polls`` + 1 polls), then calm;
    the server as given. ``fix``: the user mends the password afterwards; ``recover``: the
    server stops refusing afterwards (a 4xx that was temporary)."""
    from finsentiment.config import FinSentimentConfig
    from finsentiment.fetching import MemoryFetcher
    from finsentiment.monitor import Monitor
    from finsentiment.store import Alert

    folder.mkdir(parents=True, exist_ok=True)
    smtp = {"host": "127.0.0.1", "port": server.port, "retries": 2, "backoff_s": 0.0, "timeout_s": 3,
            "sender": "monitor@example.com", "user": user, "password_env": "BENCH_SMTP_PASSWORD"}
    if password is not None:
        os.environ["BENCH_SMTP_PASSWORD"] = password

    def config(**smtp_changes):
        return FinSentimentConfig.parse_obj(dict(
            feeds=[{"name": "wire", "url": "mem://wire"}], recipients=["analyst@example.com"], notifier="smtp",
            topics=[{"name": "Nokia", "keywords": ["Nokia"]}],
            alerts={"window_hours": 6, "min_items": 4, "negative_share": 0.5, "min_deviation": 0.0,
                    "repeat_hours": 2, "cooldown_minutes": 0},
            database_url=f"sqlite:///{folder / 'monitor.db'}", outbox_dir=str(folder / "outbox"),
            smtp={**smtp, **smtp_changes}))

    clock, fetcher, story = _Clock(), MemoryFetcher(), []
    monitor = Monitor(config(), fetcher=fetcher, sentiment=sentiment, clock=clock)
    polls = []
    if outage_polls:
        server.stop()
    for hour in range(outage_polls + 1):  # the spike goes on, fresh bad news every hour
        story += [(f"h{hour}-{n}", t) for n, t in enumerate(NEGATIVE)]
        fetcher.feeds["mem://wire"] = _rss(story)
        polls.append(monitor.poll_once().sent)
        clock.now += timedelta(hours=1)
    story += [(f"calm-{n}", t) for n in range(10) for t in POSITIVE[n % 4:n % 4 + 1]]  # the story ends
    fetcher.feeds["mem://wire"] = _rss(story)
    clock.now += timedelta(hours=7)
    polls.append(monitor.poll_once().sent)
    if outage_polls:
        server.start()  # the mail server is back
    polls.append(monitor.poll_once().sent)
    polls.append(monitor.poll_once().sent)  # a later round: nothing may go out twice or be retried for good
    with monitor.store.session() as s:
        before_fix = [{"kind": a.kind, "status": a.status, "tries": a.attempts, "error": a.last_error}
                      for a in s.query(Alert).order_by(Alert.id)]
    result = {"polls_sent": polls, "mails_accepted": server.mails(), "alerts": before_fix}
    if fix:
        os.environ["BENCH_SMTP_PASSWORD"] = fix["password"]
        monitor = Monitor(config(), fetcher=fetcher, sentiment=sentiment, clock=clock)
        result["after_password_mended"] = {"sent": monitor.poll_once().sent, "mails_accepted": server.mails()}
    if recover:
        server.data_reply = None
        result["after_server_recovered"] = {"sent": monitor.poll_once().sent, "mails_accepted": server.mails()}
    result["order"] = server.kinds()
    server.stop()
    return result


def _judge(result: dict, *, refused_for_good: bool) -> dict:
    """``ok``: one FIRING then one RESOLVED mail in the end, nothing twice, nothing before its
    firing mail; a permanent refusal tried once and then left alone until the config changed."""
    first, order = result["alerts"][0], result["order"]
    if refused_for_good:  # no mail until the cause is mended; then both, in order
        ok = (first["status"] == "failed" and first["tries"] == 1 and not result["mails_accepted"]
              and order in ([], ["FIRING", "RESOLVED"]))
    else:
        ok = order == ["FIRING", "RESOLVED"]
    return {**result, "ok": ok}


def delivery(profile: str) -> dict:
    from finsentiment.classify import SentimentModel

    sentiment = SentimentModel(prepared_models(profile)["phrasebank"], "onnx", threads=1)
    root = WORK / "security" / "delivery"
    if root.exists():
        import shutil

        shutil.rmtree(root)
    scenarios = {
        "outage: server down for 7 hourly polls of one spike, back after it ended": _judge(
            _scenario(root / "outage", sentiment, _Server().start(), outage_polls=7), refused_for_good=False),
        "wrong password (535): failed for good, sent once the password is mended": _judge(
            _scenario(root / "auth", sentiment, _Server(logins={"monitor": "right"}).start(), user="monitor",
                      password="wrong", fix={"password": "right"}), refused_for_good=True),
        "recipient refused (550): failed for good": _judge(
            _scenario(root / "rcpt", sentiment, _Server(rcpt_reply="550 5.1.1 no such mailbox").start()),
            refused_for_good=True),
        "message rejected (554): failed for good": _judge(
            _scenario(root / "data554", sentiment, _Server(data_reply="554 5.7.1 message refused").start()),
            refused_for_good=True),
        "try again later (451): kept and retried each round, sent once the server accepts": _judge(
            _scenario(root / "data451", sentiment, _Server(data_reply="451 4.3.0 try again later").start(),
                      recover=True), refused_for_good=False),
    }
    return {"scenarios": scenarios, "all_ok": all(s["ok"] for s in scenarios.values())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--parts", default="endpoints,probes,delivery")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    results = {}
    parts = options.parts.split(",")
    if "delivery" in parts:
        results["delivery"] = delivery(options.profile)
    probes = []
    if "endpoints" in parts or "probes" in parts:
        results["endpoints"], probes = endpoints(options.profile, probes="probes" in parts)
    if "probes" in parts:
        from bench.security_probes import concurrent_pollers_probe, hostile_feed_probes

        probes += hostile_feed_probes() + [concurrent_pollers_probe(WORK / "security" / "pollers")]
        results["probes"] = probes
        results["probes_ok"] = all(p["ok"] for p in probes)
    out = update_results("security", results)
    print(json.dumps(results, indent=1, default=str)[:20000])
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
