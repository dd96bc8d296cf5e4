"""Chatbot fixtures: one small Rasa model per session (a tiny BERT built here as the base of the
core intent classifier, 10 intents, a few seconds of fine-tuning), and the real `rasa run` and
action server on free loopback ports, shared by the conversation, `rasa test` and browser tests."""
from __future__ import annotations

import contextlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

BANKING_INTENTS = ["card_arrival", "pending_transfer", "lost_or_stolen_card", "exchange_rate", "top_up_limits"]


@dataclass
class ChatbotSetup:
    root: Path
    project: Path
    model: Path
    config_file: Path
    settings: object
    examples: dict  # intent -> training texts
    vocab: set
    env: dict


def _examples(project: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in ("nlu.yml", "core_nlu.yml"):
        for item in yaml.safe_load((project / "data" / name).read_text())["nlu"]:
            out[item["intent"]] = [line[2:] for line in item["examples"].splitlines() if line.startswith("- ")]
    return out


def _tiny_base(folder: Path, texts: list[str]) -> set[str]:
    from core_testlib import build_tiny_bert

    assert not folder.exists()
    words = {w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())}
    build_tiny_bert(folder, words, hidden_size=64)
    return words


@pytest.fixture(scope="session")
def chatbot(tmp_path_factory) -> ChatbotSetup:
    """Generate a small project (5 BANKING77 intents x 30 examples + the bot's own intents),
    build a tiny BERT on its words and `rasa train` it (about 30 s on 2 cores)."""
    import shared  # noqa: F401
    from chatbot import server
    from chatbot.project import build_project
    from chatbot.settings import load_settings

    root = tmp_path_factory.mktemp("chatbot")
    config_file = root / "nlpsuite.yml"
    config = {"chatbot": {
        "project_dir": str(root / "project"), "models_dir": str(root / "models"),
        "bank_db": f"sqlite:///{root / 'bank.db'}", "tracker_store": f"sqlite:///{root / 'tracker.db'}",
        "faq_index": str(root / "faq_index"), "faq": str(Path(__file__).resolve().parents[2] / "data/chatbot/faq.csv"),
        "fallback_threshold": 0.3, "uncertain_below": 0.5, "outbox_dir": str(root / "outbox"),
        "classifier": {"base": str(root / "tiny_base"), "epochs": 40, "learning_rate": 3e-3, "batch_size": 16,
                       "threads": 1, "patience": 8},
    }}
    config_file.write_text(yaml.safe_dump(config))
    settings = load_settings(config_file)
    project = build_project(settings.project_dir, settings, per_intent=30, intents=BANKING_INTENTS).project_dir
    examples = _examples(project)
    vocab = _tiny_base(root / "tiny_base", [t for texts in examples.values() for t in texts])
    env = server.rasa_env({"NLPSUITE_CONFIG": str(config_file)}, cache_dir=root / "rasa_cache")
    model = server.train(project, settings.models_dir, name="tiny", env=env, log=root / "train.log")
    return ChatbotSetup(root, project, model, config_file, settings, examples, vocab, env)


@pytest.fixture(scope="session")
def quick_bot(tmp_path_factory, quick_intents) -> ChatbotSetup:
    """The bot `nlpsuite run` builds: the full generated project (BANKING77 + the bot's own
    intents) around the quick-profile intent model, `rasa train`ed (about a minute)."""
    from chatbot import server
    from chatbot.project import build_project
    from chatbot.settings import load_settings

    root = tmp_path_factory.mktemp("quick_bot")
    live = Path(shutil.copytree(quick_intents, root / "intents"))  # its own copy: tests publish versions into it
    config_file = root / "nlpsuite.yml"
    config_file.write_text(yaml.safe_dump({"chatbot": {
        "project_dir": str(root / "project"), "models_dir": str(root / "models"),
        "bank_db": f"sqlite:///{root / 'bank.db'}", "tracker_store": f"sqlite:///{root / 'tracker.db'}",
        "faq_index": str(root / "faq_index"), "faq": str(Path(__file__).resolve().parents[2] / "data/chatbot/faq.csv"),
        "outbox_dir": str(root / "outbox"), "taught_store": str(root / "taught.json"),
        "classifier": {"model": str(live), "threads": 1},
    }}))
    settings = load_settings(config_file)
    project = build_project(settings.project_dir, settings,
                            data_dir=Path(__file__).resolve().parents[2] / "data" / "banking77").project_dir
    env = server.rasa_env({"NLPSUITE_CONFIG": str(config_file)}, cache_dir=root / "rasa_cache")
    model = server.train(project, settings.models_dir, name="quick", env=env, log=root / "train.log")
    return ChatbotSetup(root, project, model, config_file, settings, _examples(project), set(), env)


@contextlib.contextmanager
def _serve(setup: ChatbotSetup):
    """`rasa run --enable-api` and `rasa run actions` for ``setup`` on free ports, under the
    suite's supervisor (logs in ``setup.root``)."""
    from chatbot import server
    from chatbot.project import write_endpoints
    from shared.app.supervisor import Supervisor

    action_port, rasa_port = server.free_port(), server.free_port()
    write_endpoints(setup.project, setup.settings, action_port=action_port)
    actions = server.actions_service(port=action_port, env=setup.env)
    rasa = server.rasa_service(setup.project, setup.model, port=rasa_port, env=setup.env)
    supervisor = Supervisor(setup.root, setup.env, max_restarts=0)
    try:
        supervisor.start([actions, rasa])
        yield Servers(server.url(rasa), server.url(actions), action_port)
    finally:
        supervisor.stop()


@pytest.fixture(scope="session")
def quick_servers(quick_bot):
    """The quick bot's servers, until the session ends."""
    with _serve(quick_bot) as servers:
        yield servers


@dataclass
class Servers:
    rasa: str
    actions: str
    action_port: int


@pytest.fixture(scope="session")
def servers(chatbot):
    """The tiny bot's servers, until the session ends."""
    with _serve(chatbot) as servers:
        yield servers
