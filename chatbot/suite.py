"""The chatbot's part in `nlpsuite run`: the generated Rasa project, the demo bank, the FAQ
index and a trained Rasa model under ``var/chatbot``; the action server and `rasa run` as
services (the chat page itself is in the suite's web app).

The Rasa model wraps the core's already fine-tuned BANKING77 classifier (the component's
``model`` option), so `rasa train` here exports and packs, it does not fine-tune again. A
stamp of the settings, the FAQ and the classifier decides whether the project and the model
must be rebuilt; otherwise a second run reuses them.
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from shared.product import Service, SuiteContext, SuitePart

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
MODEL_NAME = "suite"
STAMP = ".nlpsuite-stamp"
RUNTIME_ONLY = {"bank_db", "tracker_store", "tracker_password_env", "lock_store", "host", "rasa_port", "action_port",
                "web_port", "rasa_url", "outbox_dir"}
"""Settings the servers read when they start (endpoints.yml is written every run): a change
of database, lock store or port needs no new Rasa model."""


class ChatbotPart(SuitePart):
    """The chatbot in `nlpsuite run`: prepares the Rasa project, demo bank, FAQ index and Rasa model
    (rebuilt only when the stamp of their inputs changed) and runs the action server and Rasa as services."""

    name = "chatbot"

    def load_config(self, path=None):
        """This product's section of ``path``, validated (for `nlpsuite config check`)."""
        from chatbot.settings import load_settings

        return load_settings(path)

    def defaults(self, ctx: SuiteContext) -> dict:
        var = ctx.var("chatbot")
        defaults = {"project_dir": str(var / "project"), "models_dir": str(var / "models"),
                    "bank_db": f"sqlite:///{var / 'bank.db'}", "tracker_store": f"sqlite:///{var / 'tracker.db'}",
                    "faq": str(REPO / "data" / "chatbot" / "faq.csv"), "faq_index": str(var / "faq_index"),
                    "host": ctx.settings.host, "web_port": ctx.settings.web_port,
                    "outbox_dir": str(ctx.var("outbox")), "taught_store": str(var / "taught.json"),
                    "classifier": {"model": str(ctx.models["intents"])}}
        if ctx.settings.backend == "postgres":  # the tracker and the bank on the suite's database
            from shared.sqlite import DATABASE_PASSWORD_ENV

            defaults.update(bank_db=ctx.settings.database_url, tracker_store=ctx.settings.database_url,
                            tracker_password_env=DATABASE_PASSWORD_ENV)
        if ctx.settings.replicas:
            defaults["lock_store"] = ctx.settings.redis_url
        return defaults

    def classifiers(self):
        from chatbot.intents import INTENT_CLASSIFIER

        return [INTENT_CLASSIFIER]

    def prepare_title(self, ctx: SuiteContext) -> str:
        return "the chatbot: Rasa project, demo bank, FAQ index, `rasa train`"

    def prepare_minutes(self, ctx: SuiteContext) -> float:
        settings = self._settings(ctx)
        stamp_file = Path(settings.project_dir) / STAMP
        fresh = stamp_file.is_file() and stamp_file.read_text() == self._stamp(settings)
        return 0.1 if fresh and (Path(settings.models_dir) / f"{MODEL_NAME}.tar.gz").is_file() else 1

    def _settings(self, ctx: SuiteContext):
        from chatbot.settings import load_settings

        return load_settings(ctx.config_file)

    def _stamp(self, settings) -> str:
        """What the Rasa project and model depend on: the settings, the FAQ and the intents. Not
        the classifier's version: the component follows a versions folder live (no retraining)."""
        from shared.model_dir import ModelInfo
        from shared.model_versions import served_folder

        built_from = settings.json(sort_keys=True, exclude=RUNTIME_ONLY)
        digest = hashlib.sha256(built_from.encode())
        digest.update(Path(settings.faq).read_bytes())
        model = served_folder(settings.classifier.model) if settings.classifier.model else None
        if model and (model / "nlpsuite.json").is_file():
            digest.update("\n".join(ModelInfo.load(model).labels).encode())
        return digest.hexdigest()

    def prepare(self, ctx: SuiteContext) -> None:
        from chatbot import server
        from chatbot.bank import Bank, seed_demo
        from chatbot.faq import INDEX_FILE, FaqIndex, load_faq
        from chatbot.project import build_project, write_endpoints
        from shared.atomic import current_version
        from shared.embeddings import Embedder

        settings = self._settings(ctx)
        project, models = Path(settings.project_dir), Path(settings.models_dir)
        stamp, stamp_file = self._stamp(settings), project / STAMP
        fresh = stamp_file.is_file() and stamp_file.read_text() == stamp
        if not fresh or not (project / "config.yml").is_file():
            report = build_project(project, settings, data_dir=REPO / "data" / "banking77")
            logger.info("chatbot: project with %d intents, %d examples in %s", len(report.intents),
                        report.examples, project)
        write_endpoints(project, settings, token_env=ctx.settings.token_env)  # Rasa -> actions with the token
        seed_demo(Bank(settings.bank_db))
        if not fresh or not (current_version(settings.faq_index) / INDEX_FILE).is_file():
            index = FaqIndex.build(load_faq(settings.faq), Embedder(settings.embedder))
            index.save(settings.faq_index)
            logger.info("chatbot: FAQ index of %d questions in %s", len(index.entries), settings.faq_index)
        model = models / f"{MODEL_NAME}.tar.gz"
        if not fresh or not model.is_file():
            logger.info("chatbot: rasa train (about 1-2 min; log in %s)", ctx.var("logs", "rasa-train.log"))
            started = time.perf_counter()
            ctx.var("logs").mkdir(parents=True, exist_ok=True)
            server.train(project, models, name=MODEL_NAME, log=ctx.var("logs", "rasa-train.log"),
                         env=server.rasa_env({"NLPSUITE_CONFIG": str(ctx.config_file)},
                                             cache_dir=ctx.var("chatbot", "rasa_cache")))
            logger.info("chatbot: Rasa model %s in %.0f s", model, time.perf_counter() - started)
        stamp_file.write_text(stamp)

    def services(self, ctx: SuiteContext) -> list[Service]:
        from chatbot import server

        settings = self._settings(ctx)
        project = Path(settings.project_dir)
        env = server.rasa_env(cache_dir=ctx.var("chatbot", "rasa_cache"))
        # rasa-sdk behind the suite's token: its actions change the bank's data
        actions = server.actions_service(port=settings.action_port, env=env, cwd=project if project.is_dir() else None,
                                         token_env=ctx.settings.token_env, logging_config=ctx.logging_config,
                                         python=ctx.python)
        ctx.links["Rasa REST webhook"] = f"http://{settings.host}:{settings.rasa_port}/webhooks/rest/webhook"
        return [actions, *self._rasa_servers(ctx, settings, project, env)]

    def _rasa_servers(self, ctx: SuiteContext, settings, project: Path, env: dict) -> list[Service]:
        """One `rasa run`, or with ``suite.replicas`` N of them behind the suite's proxy on
        ``chatbot.rasa_port``, sharing the tracker and Rasa's Redis lock store. A conversation
        whose server died mid-message holds its lock for ``TICKET_LOCK_LIFETIME`` (10 s here
        instead of Rasa's 60) before another server takes it on."""
        from chatbot import server
        from chatbot.settings import REPLICAS_ENV
        from shared.product import replica_port

        model = Path(settings.models_dir) / f"{MODEL_NAME}.tar.gz"
        common = dict(host=settings.host, token_env=ctx.settings.token_env, token=ctx.api_token,
                      logging_config=ctx.logging_config, python=ctx.python)
        # Rasa's HTTP API (trackers, models) needs the suite's token; the REST channel stays open
        if not ctx.settings.replicas:
            return [server.rasa_service(project, model, port=settings.rasa_port, env=env, **common)]
        replicas = []
        for index in range(1, ctx.settings.replicas + 1):
            replica_env = {**env, "TICKET_LOCK_LIFETIME": "10", REPLICAS_ENV: str(ctx.settings.replicas)}
            rasa = server.rasa_service(project, model, name=f"rasa-{index}", env=replica_env,
                                       port=replica_port(settings.rasa_port, ctx.settings.replica_port_offset, index),
                                       **common)
            rasa.port_key, rasa.front_port, rasa.front_key = "suite.replica_port_offset", settings.rasa_port, "chatbot.rasa_port"
            replicas.append(rasa)
        return replicas

    def databases(self, ctx: SuiteContext) -> list:
        """The embedded suite's two SQLite files, for `nlpsuite migrate`: Rasa's tracker (its own
        ``events`` table) and the bank with the verification tables, which share the bank's Base."""
        from shared.product import Database

        def tracker():
            from rasa.core.tracker_store import SQLTrackerStore  # seconds to import: only when copied

            return SQLTrackerStore.SQLEvent.__table__.metadata

        def bank():
            import chatbot.verification  # noqa: F401  (adds verifications and demo_logins to the Base)
            from chatbot.bank import Base

            return Base.metadata
        return [Database("chatbot tracker", ctx.var("chatbot", "tracker.db"), tracker),
                Database("chatbot bank", ctx.var("chatbot", "bank.db"), bank)]


def part() -> ChatbotPart:
    """The chatbot's SuitePart, found by `nlpsuite run` through the entry point in chatbot/product.py."""
    return ChatbotPart()


__all__ = ["ChatbotPart", "part"]
