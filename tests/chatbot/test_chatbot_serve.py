"""`nlpsuite chatbot serve`: the action server, `rasa run` and the chat page from one command,
serving a real conversation, then Ctrl-C stops all three."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from chatbot.senders import request_sender
import yaml

from web_testlib import free_port, processes_with


def test_serve_answers_on_every_server_then_ctrl_c_leaves_nothing(chatbot, tmp_path):
    project = Path(shutil.copytree(chatbot.project, tmp_path / "project"))  # serve rewrites endpoints.yml
    config = yaml.safe_load(chatbot.config_file.read_text())
    ports = {"rasa_port": free_port(), "action_port": free_port(), "web_port": free_port()}
    config["chatbot"].update(ports, project_dir=str(project))
    config_file = tmp_path / "serve.yml"
    config_file.write_text(yaml.safe_dump(config))
    log = tmp_path / "serve.log"
    with open(log, "wb") as output:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "nlpsuite"), "chatbot", "--config", str(config_file),
                                 "serve", "--model", str(chatbot.model), "--logs", str(tmp_path / "logs")],
                                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while "chat page:" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        web = f"http://127.0.0.1:{ports['web_port']}"
        assert httpx.get(f"{web}/health").json()["products"]["chatbot"]["status"] == "ok"
        assert 'id="send"' in httpx.get(f"{web}/chatbot/").text  # the chat page is served
        text = chatbot.examples["top_up_limits"][0]
        rasa = f"http://127.0.0.1:{ports['rasa_port']}"
        refused = httpx.post(f"{rasa}/webhooks/rest/webhook", json={"sender": "made-up", "message": text}, timeout=60)
        assert refused.status_code == 403 and "POST /webhooks/rest/session" in refused.json()["error"]  # issued ids
        sender = request_sender(rasa)
        answer = httpx.post(f"{rasa}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60).json()
        assert any("10,000 GBP a day" in m.get("text", "") for m in answer)
        forged = sender.rsplit(".", 1)[0] + "x." + sender.rsplit(".", 1)[1]
        assert httpx.post(f"{rasa}/webhooks/rest/webhook", json={"sender": forged, "message": text},
                          timeout=60).status_code == 403
        actions = f"http://127.0.0.1:{ports['action_port']}"
        assert httpx.get(f"{actions}/health").status_code == 200
        # the HTTP APIs behind the suite's token, as in `nlpsuite run`; the REST channel above is open
        token = subprocess.run([str(Path(sys.executable).parent / "nlpsuite"), "token", "--config", str(config_file)],
                               capture_output=True, text=True, check=True).stdout.strip()
        tracker = f"{rasa}/conversations/{sender}/tracker"
        assert httpx.get(tracker).status_code == 401
        assert httpx.get(tracker, params={"token": token}).json()["sender_id"] == sender
        assert httpx.post(f"{actions}/webhook", json={"next_action": "action_card_control"}).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert processes_with(str(config_file.resolve())) == []
