"""Alert mail over STARTTLS with login, against a real aiosmtpd server with its own certificate.

The server requires STARTTLS and AUTH; the client must verify the certificate (trusted through
``smtp.ca_file``) before it sends the password, and a wrong password or an untrusted certificate
leaves the alert failed (refused for good: tried again only once the mail settings change), never
sent in the clear.
"""
from __future__ import annotations

import ssl

import pytest

from fin_testlib import SmtpServer, entries_for, free_port, rss, self_signed_certificate
from finsentiment.fetching import MemoryFetcher
from finsentiment.monitor import Monitor
from finsentiment.store import FAILED, SENT, Alert

PASSWORD_ENV = "FIN_TEST_TLS_SMTP_PASSWORD"


@pytest.fixture
def tls_server(tmp_path):
    cert_file, key_file = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = SmtpServer(free_port(), tls_context=context, logins={"monitor": "s3cret"}).start()
    try:
        yield server, cert_file
    finally:
        server.stop()


def tls_monitor(make_config, loaded_sentiment, port, ca_file, tag):
    smtp = {"host": "127.0.0.1", "port": port, "starttls": True, "user": "monitor", "password_env": PASSWORD_ENV,
            "retries": 1, "backoff_s": 0.0, "timeout_s": 5, "sender": "monitor@example.com"}
    if ca_file:
        smtp["ca_file"] = ca_file
    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}], notifier="smtp", smtp=smtp)
    fetcher = MemoryFetcher({"mem://wire": rss(entries_for("negative", 5, "Nokia", tag))})
    return Monitor(config, fetcher=fetcher, sentiment=loaded_sentiment)


def only_alert(monitor):
    with monitor.store.session() as s:
        [alert] = s.query(Alert).all()
        return alert.status, alert.last_error


def test_starttls_and_login_deliver_the_alert(make_config, loaded_sentiment, tls_server, monkeypatch):
    server, cert_file = tls_server
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    report = tls_monitor(make_config, loaded_sentiment, server.port, cert_file, "ok").poll_once()
    assert (report.alerts, report.sent, report.send_failed) == (1, 1, 0)
    assert server.authenticated == ["monitor"]
    [mail] = server.inbox.messages
    assert "FIRING" in mail["Subject"] and "Nokia" in mail["Subject"]


def test_wrong_password_keeps_the_alert_failed(make_config, loaded_sentiment, tls_server, monkeypatch):
    server, cert_file = tls_server
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    monitor = tls_monitor(make_config, loaded_sentiment, server.port, cert_file, "pw")
    report = monitor.poll_once()
    assert (report.sent, report.send_failed) == (0, 1)
    status, error = only_alert(monitor)
    assert status == FAILED and "SMTPAuthenticationError" in error
    assert server.inbox.envelopes == [] and server.authenticated == []
    # a refused login will not succeed by repetition: not tried again while nothing changes
    assert monitor.poll_once().send_failed == 0
    with monitor.store.session() as s:
        assert s.query(Alert).one().attempts == 1

    monkeypatch.setenv(PASSWORD_ENV, "s3cret")  # fixed: the kept alert goes out on the next round
    assert monitor.poll_once().sent == 1
    assert only_alert(monitor)[0] == SENT and len(server.inbox.envelopes) == 1


def test_untrusted_certificate_is_refused_before_the_password_is_sent(make_config, loaded_sentiment,
                                                                       tls_server, monkeypatch):
    server, _ = tls_server
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    monitor = tls_monitor(make_config, loaded_sentiment, server.port, None, "ca")  # system CAs only
    assert monitor.poll_once().send_failed == 1
    status, error = only_alert(monitor)
    assert status == FAILED and "CERTIFICATE_VERIFY_FAILED" in error
    assert server.authenticated == [] and server.inbox.envelopes == []
