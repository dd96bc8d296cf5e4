"""Alert mails through a real SMTP server (aiosmtpd): content, escaping, chart, retries."""
from __future__ import annotations

import pytest

from fin_testlib import FeedEntry, entries_for, rss
from finsentiment.fetching import MemoryFetcher
from finsentiment.monitor import Monitor
from finsentiment.notify import MemoryNotifier, OutboxNotifier, SmtpNotifier
from finsentiment.store import FAILED, PENDING, SENT, Alert
from shared.config import ConfigError

EVIL = "Nokia reports heavy loss <script>alert('x')</script> & cuts jobs"


def smtp_monitor(make_config, loaded_sentiment, port, entries, **overrides):
    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}], notifier="smtp",
                         smtp={"host": "127.0.0.1", "port": port, "retries": 2, "backoff_s": 0.01,
                               "timeout_s": 3, "sender": "monitor@example.com"}, **overrides)
    return Monitor(config, fetcher=MemoryFetcher({"mem://wire": rss(entries)}), sentiment=loaded_sentiment)


def test_alert_mail_has_subject_recipients_headlines_and_chart(make_config, loaded_sentiment, smtp_server):
    smtp_server.start()
    entries = entries_for("negative", 4, "Nokia", "m") + [FeedEntry(EVIL, "http://news.example/evil?a=1&b=2", "evil")]
    monitor = smtp_monitor(make_config, loaded_sentiment, smtp_server.port, entries)
    report = monitor.poll_once()
    assert (report.alerts, report.sent) == (1, 1)
    [envelope] = smtp_server.inbox.envelopes
    assert envelope.mail_from == "monitor@example.com"
    assert sorted(envelope.rcpt_tos) == ["analyst@example.com", "desk@example.com"]
    [mail] = smtp_server.inbox.messages
    assert "FIRING" in mail["Subject"] and "Nokia" in mail["Subject"] and "5/5" in mail["Subject"]
    plain = mail.get_body(("plain",)).get_content()
    html_part = mail.get_body(("html",)).get_content()
    for entry in entries[:4]:
        assert entry.title in plain and entry.link in plain
        assert f'<a href="{entry.link}">{entry.title}</a>' in html_part
    # The untrusted headline is escaped in the HTML, attributes included; the plain part is verbatim.
    assert "<script>" not in html_part
    assert "Nokia reports heavy loss &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; cuts jobs" in html_part
    assert 'href="http://news.example/evil?a=1&amp;b=2"' in html_part
    assert EVIL in plain
    images = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    png = images[0].get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
    assert images[0]["Content-ID"].strip("<>") in html_part


def test_mail_server_down_then_up_sends_exactly_once(make_config, loaded_sentiment, smtp_server):
    monitor = smtp_monitor(make_config, loaded_sentiment, smtp_server.port, entries_for("negative", 5, "Nokia", "d"))
    report = monitor.poll_once()  # nobody listens on the port yet
    assert (report.alerts, report.sent, report.send_failed) == (1, 0, 1)
    with monitor.store.session() as s:
        [alert] = s.query(Alert).all()
        # a server that is down may come back: kept pending, with the reason, for the next round
        assert alert.status == PENDING and alert.attempts == 2 and "127.0.0.1" in alert.last_error
    assert monitor.poll_once().send_failed == 1  # still down: kept, tried again

    smtp_server.start()
    report = monitor.poll_once()
    assert (report.alerts, report.sent) == (0, 1)
    assert monitor.poll_once().sent == 0
    assert len(smtp_server.inbox.envelopes) == 1
    with monitor.store.session() as s:
        [alert] = s.query(Alert).all()
        assert alert.status == SENT and alert.attempts == 5 and alert.sent_at is not None


def test_retries_within_a_round_back_off(make_config, loaded_sentiment):
    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}],
                         smtp={"retries": 3, "backoff_s": 0.5})
    notifier = MemoryNotifier(fail_times=2)
    waits = []
    monitor = Monitor(config, fetcher=MemoryFetcher({"mem://wire": rss(entries_for("negative", 5, "Nokia", "r"))}),
                      notifier=notifier, sentiment=loaded_sentiment)
    monitor.poll_feeds(report := __import__("finsentiment.monitor").monitor.PollReport())
    monitor.score_pending(report)
    monitor.evaluate(report)
    from finsentiment.notify import deliver_pending

    assert deliver_pending(monitor.store, notifier, config, sleep=waits.append) == {"sent": 1, "failed": 0}
    assert waits == [0.5, 1.0] and notifier.calls == 3 and len(notifier.messages) == 1


def test_outbox_writes_eml_files(make_config, loaded_sentiment, tmp_path):
    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}])
    monitor = Monitor(config, fetcher=MemoryFetcher({"mem://wire": rss(entries_for("negative", 5, "Nokia", "o"))}),
                      sentiment=loaded_sentiment)
    assert isinstance(monitor.notifier, OutboxNotifier)
    assert monitor.poll_once().sent == 1
    [eml] = list((tmp_path / "outbox").glob("*.eml"))
    assert b"Subject: [finsentiment] FIRING: Nokia" in eml.read_bytes()


def test_smtp_password_only_from_the_named_environment_variable(make_config, monkeypatch):
    config = make_config(smtp={"user": "bot", "password_env": "FIN_TEST_SMTP_PASSWORD"})
    monkeypatch.delenv("FIN_TEST_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="FIN_TEST_SMTP_PASSWORD"):
        config.smtp.password()
    monkeypatch.setenv("FIN_TEST_SMTP_PASSWORD", "s3cret")
    assert config.smtp.password() == "s3cret"
    assert isinstance(SmtpNotifier(config.smtp), SmtpNotifier)


def test_an_outage_over_three_repeat_intervals_ends_in_one_firing_mail_then_the_resolved_one(
        make_config, loaded_sentiment, smtp_server):
    """Alertmanager's promise: during an outage repeats collapse into one mail per spike; the
    topic counts as notified only once a server accepted the mail; resolved never comes first."""
    from datetime import datetime

    from fin_testlib import Clock
    from finsentiment.store import FIRING, RESOLVED, TopicState

    clock = Clock(datetime(2024, 3, 4, 9, 0, 0))
    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}], notifier="smtp",
                         alerts={"window_hours": 6, "min_items": 4, "negative_share": 0.5, "min_deviation": 0.0,
                                 "repeat_hours": 2, "cooldown_minutes": 0},
                         smtp={"host": "127.0.0.1", "port": smtp_server.port, "retries": 1, "backoff_s": 0.0,
                               "timeout_s": 3, "sender": "monitor@example.com"})
    fetcher = MemoryFetcher()
    monitor = Monitor(config, fetcher=fetcher, sentiment=loaded_sentiment, clock=clock)
    story = []
    for hour in range(7):  # the spike goes on, fresh bad news every hour, the mail server down
        story += entries_for("negative", 2, "Nokia", f"h{hour}")
        fetcher.feeds["mem://wire"] = rss(story)
        report = monitor.poll_once()
        assert report.sent == 0
        clock.advance(hours=1)
    with monitor.store.session() as s:
        firing = s.query(Alert).filter_by(kind=FIRING).all()
        assert len(firing) == 1 and firing[0].status == PENDING  # brought up to date, not queued again
        assert firing[0].n_items > 4 and s.get(TopicState, "Nokia").last_notified is None
    # the story ends (good news only) while the server is still down: the resolved alert waits
    fetcher.feeds["mem://wire"] = rss(story + entries_for("positive", 40, "Nokia", "calm"))
    clock.advance(hours=7)
    monitor.poll_once()
    with monitor.store.session() as s:
        assert [(a.kind, a.status) for a in s.query(Alert).order_by(Alert.id)] == [(FIRING, PENDING),
                                                                                  (RESOLVED, PENDING)]
    smtp_server.start()
    assert monitor.poll_once().sent == 2
    subjects = [m["Subject"] for m in smtp_server.inbox.messages]
    assert len(subjects) == 2 and "FIRING" in subjects[0] and "RESOLVED" in subjects[1], subjects
    with monitor.store.session() as s:
        assert s.get(TopicState, "Nokia").last_notified == clock.now
    assert monitor.poll_once().sent == 0 and len(smtp_server.inbox.messages) == 2


def test_a_resolved_mail_waits_while_its_firing_mail_is_refused(make_config, loaded_sentiment):
    from finsentiment.notify import deliver_pending
    from finsentiment.store import FIRING, RESOLVED

    config = make_config(smtp={"retries": 1, "backoff_s": 0.0})
    monitor = Monitor(config, sentiment=loaded_sentiment, notifier=MemoryNotifier(fail_times=1, permanent=True))
    with monitor.store.session() as s:
        from datetime import datetime

        when = datetime(2024, 1, 1)
        for kind in (FIRING, RESOLVED):
            s.add(Alert(topic="Nokia", group_key="Nokia@1", kind=kind, window_start=when, window_end=when,
                        n_items=5, n_negative=5, negative_share=1.0, baseline=0.1, status=PENDING, attempts=0,
                        created_at=when))
    assert deliver_pending(monitor.store, monitor.notifier, config) == {"sent": 0, "failed": 1}
    with monitor.store.session() as s:
        assert [(a.kind, a.status) for a in s.query(Alert).order_by(Alert.id)] == [(FIRING, FAILED),
                                                                                  (RESOLVED, PENDING)]
    assert monitor.notifier.messages == [] and monitor.notifier.calls == 1


def _queued_alerts(monitor, n: int) -> list[int]:
    from datetime import datetime

    from finsentiment.store import FIRING

    when = datetime(2024, 1, 1)
    with monitor.store.session() as s:
        rows = [Alert(topic=f"Topic{i}", group_key=f"Topic{i}@1", kind=FIRING, window_start=when, window_end=when,
                      n_items=5, n_negative=5, negative_share=1.0, baseline=0.1, status=PENDING, attempts=0,
                      created_at=when) for i in range(n)]
        s.add_all(rows)
        s.flush()
        return [row.id for row in rows]


def test_two_pollers_at_once_send_each_alert_once(make_config, loaded_sentiment):
    import threading
    import time as clock

    from finsentiment.notify import deliver_pending

    class SlowNotifier(MemoryNotifier):
        def send(self, message):
            clock.sleep(0.05)  # long enough for the other poller to try the same alert
            super().send(message)

    config = make_config(smtp={"retries": 1, "backoff_s": 0.0})
    notifier = SlowNotifier()
    monitor = Monitor(config, sentiment=loaded_sentiment, notifier=notifier)
    ids = _queued_alerts(monitor, 6)
    pollers = [threading.Thread(target=deliver_pending, args=(monitor.store, notifier, config)) for _ in range(2)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join()
    subjects = sorted(m["Subject"] for m in notifier.messages)
    assert len(subjects) == len(ids) == len(set(subjects))  # every alert, none twice
    with monitor.store.session() as s:
        assert {a.status for a in s.query(Alert)} == {SENT}


def test_an_unexpected_error_on_one_alert_does_not_block_the_queue(make_config, loaded_sentiment):
    from finsentiment.notify import deliver_pending

    class Flaky(MemoryNotifier):
        def send(self, message):
            if "Topic0" in message["Subject"] and not getattr(self, "broke", False):
                self.broke = True
                raise RuntimeError("a bug in a notifier")
            super().send(message)

    config = make_config(smtp={"retries": 1, "backoff_s": 0.0})
    monitor = Monitor(config, sentiment=loaded_sentiment, notifier=Flaky())
    first, second = _queued_alerts(monitor, 2)
    assert deliver_pending(monitor.store, monitor.notifier, config) == {"sent": 1, "failed": 1}
    with monitor.store.session() as s:
        assert s.get(Alert, first).status == PENDING and "a bug in a notifier" in s.get(Alert, first).last_error
        assert s.get(Alert, second).status == SENT
    assert deliver_pending(monitor.store, monitor.notifier, config) == {"sent": 1, "failed": 0}  # next round


def test_a_send_killed_before_its_commit_is_sent_again_with_the_same_message_id(make_config, loaded_sentiment):
    from datetime import timedelta

    from finsentiment.notify import deliver_pending
    from finsentiment.store import CLAIM_LEASE, SENDING, utcnow

    config = make_config(smtp={"retries": 1, "backoff_s": 0.0})
    notifier = MemoryNotifier()
    monitor = Monitor(config, sentiment=loaded_sentiment, notifier=notifier)
    [alert_id] = _queued_alerts(monitor, 1)
    assert deliver_pending(monitor.store, notifier, config)["sent"] == 1
    with monitor.store.session() as s:  # as if the process died after the server's accept, before the commit
        alert = s.get(Alert, alert_id)
        alert.status, alert.claimed_at = SENDING, utcnow()
    assert deliver_pending(monitor.store, notifier, config)["sent"] == 0  # claimed: nobody else sends it ...
    with monitor.store.session() as s:
        s.get(Alert, alert_id).claimed_at = utcnow() - CLAIM_LEASE - timedelta(seconds=1)
    assert deliver_pending(monitor.store, notifier, config)["sent"] == 1  # ... until its claim has lapsed
    first, again = notifier.messages
    assert first["Message-ID"] == again["Message-ID"] and first["Message-ID"].startswith("<finsentiment.")


def test_feed_text_cannot_forge_lines_or_links_in_the_plain_text_mail(make_config, loaded_sentiment):
    forged = "Nokia profit falls\nBcc: victim@example.com\r\nX-Injected: yes\u2028- fake line"
    entries = entries_for("negative", 4, "Nokia", "f") + [FeedEntry(forged, "javascript:alert(1)", "forged")]
    config = make_config(feeds=[{"name": "wire", "url": "mem://wire"}], smtp={"retries": 1})
    notifier = MemoryNotifier()
    monitor = Monitor(config, fetcher=MemoryFetcher({"mem://wire": rss(entries)}), notifier=notifier,
                      sentiment=loaded_sentiment)
    assert monitor.poll_once().sent == 1
    [message] = notifier.messages
    plain = message.get_body(("plain",)).get_content()
    lines = plain.splitlines()
    assert not any(line.startswith(("Bcc:", "X-Injected", "- fake line")) for line in lines), plain
    assert "javascript:" not in plain and "javascript:" not in message.get_body(("html",)).get_content()
    assert message["Bcc"] is None
