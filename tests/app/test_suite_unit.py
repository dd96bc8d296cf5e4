"""The pieces of `nlpsuite run` on their own: the supervisor (readiness, restart, ordered stop),
the port check, the SMTP outbox, `nlpsuite config check`, and the run command's early errors."""
from __future__ import annotations

import smtplib
import socket
import sys
import threading
import time
from email.message import EmailMessage

import pytest
import yaml
from web_testlib import free_port

from shared.app.cli import main
from shared.app.service_state import Restarts
from shared.app.supervisor import ServiceError, Supervisor
from shared.errors import CommandError
from shared.product import Service

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(120)"]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


NO_WAIT = Restarts(first_delay_s=0.0, failed_retry_s=0.0)


def watch_until(supervisor, done, timeout_s: float = 30):
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, [item.status() for item in supervisor.running]
        supervisor.watch_once()
        time.sleep(0.05)


def test_supervisor_waits_restarts_and_stops_everything(tmp_path):
    supervisor = Supervisor(tmp_path / "logs", {}, max_restarts=1, restarts=NO_WAIT)
    supervisor.start([Service("a", SLEEPER, ready_log="up"), Service("b", SLEEPER, ready_log="up")])
    a, b = supervisor.running
    first_pid = a.popen.pid
    a.popen.kill()
    a.popen.wait()
    watch_until(supervisor, lambda: a.popen.pid != first_pid and a.state == "ready")  # started again, ready
    assert alive(a.popen.pid) and a.restarts
    assert (tmp_path / "logs" / "a.log").read_text().count("up") == 2  # the log keeps both runs
    a.popen.kill()
    a.popen.wait()
    with pytest.raises(ServiceError, match="a crashed 2 times"):
        supervisor.watch_once()  # max_restarts=1 and not keep_going: the second crash gives up
    pids = [item.popen.pid for item in supervisor.running]
    supervisor.stop()
    assert not any(alive(pid) for pid in pids) and supervisor.running == []


def test_a_crash_loop_marks_one_service_failed_and_the_others_keep_serving(tmp_path):
    import json

    crasher = Service("monitor", [sys.executable, "-c", "import sys; print('up', flush=True); sys.exit(9)"],
                      ready_log="up")
    policy = Restarts(first_delay_s=0.3, max_delay_s=10, failed_retry_s=1.5)
    supervisor = Supervisor(tmp_path, {}, max_restarts=3, keep_going=True, restarts=policy)
    supervisor.start([Service("chat", SLEEPER, ready_log="up"), crasher])
    chat, monitor = supervisor.running
    chat_pid, crashes = chat.popen.pid, []

    def failed() -> bool:
        crashes[:] = monitor.restarts or crashes  # the crash times, until "failed" forgets them
        return monitor.state == "failed"

    watch_until(supervisor, failed)
    assert len(crashes) == 3  # three restarts, then failed
    gaps = [b - a for a, b in zip(crashes, crashes[1:])]
    assert gaps[0] >= policy.delay(0) and gaps[1] >= policy.delay(1) == 2 * policy.delay(0)  # back-off doubles
    status = json.loads((tmp_path / "services.json").read_text())
    assert status["monitor"]["state"] == "failed" and "exited with 9" in status["monitor"]["last_stop"]
    assert status["chat"]["state"] == "ready" and chat.popen.pid == chat_pid and alive(chat_pid)
    from fastapi.testclient import TestClient

    from shared.app.web import create_app

    config = tmp_path / "nlpsuite.yml"
    config.write_text(f"suite:\n  var_dir: {tmp_path}\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "services.json").write_text((tmp_path / "services.json").read_text())
    web = TestClient(create_app(config, plugins=[], api_token="t" * 32), base_url="http://127.0.0.1")
    health = web.get("/health").json()
    assert health["status"] == "degraded" and health["services"]["monitor"]["state"] == "failed"
    assert "monitor: failed" in web.get("/").text
    failed_pid = monitor.popen.pid
    watch_until(supervisor, lambda: monitor.popen.pid != failed_pid)  # tried again later
    supervisor.stop()
    assert not (tmp_path / "services.json").exists()


def test_a_hung_service_is_restarted(tmp_path):
    hang = tmp_path / "hang"
    probe = Service("web", SLEEPER, ready_log="up", ready=lambda: not hang.exists())
    supervisor = Supervisor(tmp_path, {}, max_restarts=3, keep_going=True,
                            restarts=Restarts(first_delay_s=0.0, probe_every_s=0.05, probe_failures=3))
    supervisor.start([probe])
    (item,) = supervisor.running
    first = item.popen.pid
    hang.touch()  # the process lives on, its probe falls silent
    watch_until(supervisor, lambda: item.state != "ready")
    assert "hung" in item.reason and not alive(first)
    hang.unlink()
    watch_until(supervisor, lambda: item.state == "ready")
    assert item.popen.pid != first
    supervisor.stop()


def test_ctrl_c_while_a_service_is_starting_stops_at_once(tmp_path):
    from shared.app.supervisor import StopRequested

    supervisor = Supervisor(tmp_path, {})
    threading.Timer(0.5, supervisor.stopping.set).start()
    started = time.monotonic()
    with pytest.raises(StopRequested):
        supervisor.start([Service("slow", SLEEPER, ready_log="never printed")])
    supervisor.stop()
    assert time.monotonic() - started < 20 and supervisor.running == []


def test_a_one_shot_job_that_succeeds_is_done_and_one_that_fails_is_started_again(tmp_path):
    job = Service("job", [sys.executable, "-c", "print('trained')"], oneshot=True)
    failing = Service("bad", [sys.executable, "-c", "import sys; sys.exit(4)"], oneshot=True)
    supervisor = Supervisor(tmp_path, {}, max_restarts=1, restarts=NO_WAIT)
    supervisor.start([job, failing])  # ready at once: nothing waits for a job
    done, bad = supervisor.running
    done.popen.wait()
    bad.popen.wait()
    supervisor.watch_once()
    assert done.finished and done.restarts == []  # exit 0: finished, never started again
    assert bad.restarts and not bad.finished  # a failure is a crash like any other
    with pytest.raises(ServiceError, match="bad crashed 2 times"):
        watch_until(supervisor, lambda: False)
    supervisor.stop()


def test_the_plan_says_what_serves_first_and_what_the_upgrade_brings(tmp_path):
    from shared.app.discovery import classifier_specs, load_parts
    from shared.app.runner import _model_plan, upgrade_service
    from shared.product import SuiteContext, SuiteSettings

    specs = classifier_specs(load_parts())
    first, steps, coming = _model_plan(specs, SuiteSettings(), tmp_path)
    assert [s.name for s in first] == [s.name for s in specs]
    assert all("probe recipe" in title for title, _ in steps)
    assert all(minutes <= 2 for _, minutes in steps)  # the first versions take minutes, not quarters of an hour
    assert any("lp-ft recipe" in line and "swapped in when it beats" in line for line in coming)
    assert _model_plan(specs, SuiteSettings(upgrade=False), tmp_path)[2] == []
    given = _model_plan(specs, SuiteSettings(models={s.name: str(tmp_path) for s in specs}), tmp_path)
    assert given == ([], [], [])  # folders given by the user: nothing trained, nothing upgraded
    ctx = SuiteContext(settings=SuiteSettings(upgrade_threads=1), var_dir=tmp_path, config_file=tmp_path / "c.yml")
    service = upgrade_service(ctx)
    assert service.oneshot and service.port is None
    assert service.command[-6:] == ["--var", str(tmp_path), "--profile", "quick", "--threads", "1"]


def test_a_service_that_dies_while_starting_is_reported_with_its_log(tmp_path):
    crash = [sys.executable, "-c", "import sys; print('model folder missing'); sys.exit(3)"]
    supervisor = Supervisor(tmp_path, {})
    with pytest.raises(ServiceError, match=r"(?s)exited with 3.*model folder missing"):
        supervisor.start([Service("broken", crash, ready_log="never")])
    supervisor.stop()


def test_a_taken_port_is_named_with_its_key_before_anything_starts(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        supervisor = Supervisor(tmp_path, {})
        with pytest.raises(CommandError, match=f"port {port} .*chatbot.rasa_port.*NLPSUITE__CHATBOT__RASA_PORT"):
            supervisor.check_ports([Service("rasa", SLEEPER, port=port, port_key="chatbot.rasa_port")])
    with pytest.raises(CommandError, match="both port"):
        Supervisor(tmp_path, {}).check_ports([Service("x", SLEEPER, port=port, port_key="a.port"),
                                               Service("y", SLEEPER, port=port, port_key="b.port")])


def test_outbox_stores_each_mail_as_an_eml_file(tmp_path):
    from shared.app.outbox import serve

    port, stop = free_port(), threading.Event()
    thread = threading.Thread(target=serve, args=(tmp_path / "outbox", "127.0.0.1", port, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "spike: Nokia", "monitor@localhost", "analyst@localhost"
    message.set_content("headline <b>one</b>")
    with smtp:
        smtp.send_message(message)
        smtp.send_message(message)
    stop.set()
    thread.join(10)
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2 and not list((tmp_path / "outbox").glob(".*"))
    assert b"Subject: spike: Nokia" in files[0].read_bytes() and b"headline <b>one</b>" in files[0].read_bytes()


def test_config_check_names_the_wrong_key_and_section(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "good.yml"
    good.write_text(yaml.safe_dump({"suite": {"web_port": 8100}, "chatbot": {"rasa_port": 5100},
                                    "finsentiment": {"poll_interval_s": 60}, "recommender": {"default_k": 5}}))
    assert main(["config", "check", "--config", str(good)]) == 0
    assert '"status": "ok"' in capsys.readouterr().out
    cases = {"chatbot:\n  rasa_prot: 5\n": "chatbot.rasa_prot",
             "chatbots: {}\n": "unknown section(s) 'chatbots'",
             "finsentiment:\n  smtp:\n    port: many\n": "finsentiment.smtp.port",
             "suite:\n  profile: fast\n": "suite.profile: unknown profile 'fast'"}
    for n, (text, expected) in enumerate(cases.items()):
        bad = tmp_path / f"bad{n}.yml"
        bad.write_text(text)
        assert main(["config", "check", "--config", str(bad)]) == 2
        err = capsys.readouterr().err
        assert str(bad) in err and expected in err, err
    monkeypatch.setenv("NLPSUITE__SUITE__WEB_PORT", "not-a-port")
    assert main(["config", "check", "--config", str(good)]) == 2
    assert "suite.web_port" in capsys.readouterr().err


def test_run_stops_before_training_when_a_port_is_taken_or_a_model_folder_is_wrong(tmp_path, capsys, monkeypatch):
    import shared.app.quickstart

    monkeypatch.setattr(shared.app.quickstart, "ensure_serving",
                        lambda *a, **k: pytest.fail("trained although the run could not start"))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = tmp_path / "nlpsuite.yml"
        config.write_text(yaml.safe_dump({"suite": {"var_dir": str(tmp_path / "var"), "web_port": port}}))
        assert main(["run", "--config", str(config)]) == 2
        assert f"port {port}" in capsys.readouterr().err
    config.write_text(yaml.safe_dump({"suite": {"var_dir": str(tmp_path / "var"),
                                                "models": {"intents": str(tmp_path)}}}))
    assert main(["run", "--config", str(config)]) == 2
    assert "suite.models.intents" in capsys.readouterr().err


def test_run_refuses_a_network_address_unless_remote_access_is_meant(tmp_path, capsys, monkeypatch):
    import shared.app.quickstart

    monkeypatch.setattr(shared.app.quickstart, "ensure_serving",
                        lambda *a, **k: pytest.fail("trained although the run could not start"))
    config = tmp_path / "nlpsuite.yml"
    config.write_text(yaml.safe_dump({"suite": {"var_dir": str(tmp_path / "var"), "host": "0.0.0.0"}}))
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "suite.host: 0.0.0.0" in err and "suite.allow_remote" in err
    assert not (tmp_path / "var" / "secrets").exists()  # stopped before anything was made


def test_the_api_token_is_made_once_private_and_printed(tmp_path, capsys, monkeypatch):
    import os
    import stat

    from shared.config import ConfigError
    from shared.product.token import load_api_token

    monkeypatch.delenv("NLPSUITE_API_TOKEN", raising=False)
    config = tmp_path / "nlpsuite.yml"
    config.write_text(yaml.safe_dump({"suite": {"var_dir": str(tmp_path / "var")}}))
    assert main(["token", "--config", str(config)]) == 0
    token = capsys.readouterr().out.strip()
    path = tmp_path / "var" / "secrets" / "api-token"
    assert len(token) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_api_token(tmp_path / "var") == token  # the same one every time
    monkeypatch.setenv("MY_TOKEN", "from-the-environment-0123")
    assert load_api_token(tmp_path / "var", "MY_TOKEN") == "from-the-environment-0123"
    monkeypatch.setenv("MY_TOKEN", "short")
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_api_token(tmp_path / "var", "MY_TOKEN")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        load_api_token(tmp_path / "var")
