"""The monitor's part in `nlpsuite run`: its database under ``var/finsentiment``, the core's
PhraseBank model, alert mail through the suite's local SMTP outbox (so the mails land in
``var/outbox`` as .eml files, the same way they would reach a real mail server), and the
polling daemon as a service. A real SMTP host is one config change: ``finsentiment.smtp``.
"""
from __future__ import annotations

import json

from shared.product import ClassifierSpec, Service, SuiteContext, SuitePart
from shared.training.args import FineTuneArgs

# A first `nlpsuite run` serves the probe (frozen int8 features, a logistic head) within a minute;
# the profile's recipe, the winner on validation data (bench/results/recipe.json), replaces it live.
FIRST = FineTuneArgs(recipe="probe", max_length=80)
PROFILES = {
    "quick": FineTuneArgs(epochs=2, learning_rate=6e-5, batch_size=16, max_length=80, early_stopping_patience=1),
    "full": FineTuneArgs(epochs=8, learning_rate=5e-5, batch_size=16, warmup_ratio=0.1, max_length=96,
                         early_stopping_patience=3),
}


def _phrasebank() -> dict:
    from finsentiment.phrasebank import load_phrasebank

    return load_phrasebank()


SENTIMENT_CLASSIFIER = ClassifierSpec(
    name="phrasebank",
    title="sentiment model (Financial PhraseBank)",
    load_data=_phrasebank,
    profiles=PROFILES,
    expected_minutes={"quick": 3.5, "full": 15},
    first=FIRST,
    first_minutes=0.7,
    demo_texts=("Operating profit rose 25% to EUR 3.2 million.",
                "The company warned that sales will fall sharply next year."),
)
READY_LINE = "finsentiment: polling"  # what `nlpsuite finsentiment run` prints once its model is loaded


class FinSentimentPart(SuitePart):
    """The monitor in `nlpsuite run`: its database, the suite's PhraseBank model and mail through the local
    SMTP outbox; prepare refuses a model folder with no model and renders the demo feeds, and
    `nlpsuite finsentiment run` is the ``monitor`` service."""

    name = "finsentiment"

    def load_config(self, path=None):
        """This product's section of ``path``, validated (for `nlpsuite config check`)."""
        from finsentiment.config import load_config

        return load_config(path)

    def classifiers(self) -> list[ClassifierSpec]:
        return [SENTIMENT_CLASSIFIER]

    def prepare_title(self, ctx: SuiteContext) -> str:
        return "the news monitor: its database and the demo feeds"

    def defaults(self, ctx: SuiteContext) -> dict:
        from finsentiment.config import demo_feeds

        demo = ctx.var("finsentiment", "demo-feeds")
        database = (ctx.settings.database_url if ctx.settings.backend == "postgres"
                    else f"sqlite:///{ctx.var('finsentiment', 'finsentiment.db')}")
        return {"database_url": database,
                "demo_dir": str(demo), "feeds": [json.loads(f.json()) for f in demo_feeds(demo)],
                "outbox_dir": str(ctx.var("outbox")), "model_dir": str(ctx.models["phrasebank"]),
                "notifier": "smtp",
                "smtp": {"host": ctx.settings.host, "port": ctx.settings.outbox_port,
                         "sender": "finsentiment@localhost"}}

    def prepare(self, ctx: SuiteContext) -> None:
        from finsentiment.config import load_config
        from finsentiment.demo import ensure_demo_feeds
        from shared.errors import CommandError

        from shared.model_versions import served_folder

        config = load_config(ctx.config_file)
        if not (served_folder(config.model_dir) / "nlpsuite.json").is_file():
            raise CommandError(f"finsentiment.model_dir: {config.model_dir} holds no model; "
                               "remove the key to use the suite's, or fine-tune one with `nlpsuite finetune`")
        ctx.var("finsentiment").mkdir(parents=True, exist_ok=True)
        ensure_demo_feeds(config)  # dated from this first run; reused as they are afterwards

    def services(self, ctx: SuiteContext) -> list[Service]:
        """The ``monitor``; with ``suite.replicas`` two, ``monitor-1`` and ``monitor-2``: the one
        holding the database's scheduler lock polls, the other stands by (finsentiment.leader)."""
        names = ["monitor-1", "monitor-2"] if ctx.settings.replicas else ["monitor"]
        return [Service(name, ctx.module_command("shared.app.cli", "finsentiment", "run"),
                        ready_log=READY_LINE, ready_timeout_s=120) for name in names]

    def databases(self, ctx: SuiteContext) -> list:
        """The monitor's SQLite file, for `nlpsuite migrate`: every table but the scheduler's job
        (the monitor schedules it again at start) and its lock's holder (a process of this machine)."""
        from shared.product import Database

        def tables():
            from finsentiment.store import Base

            return Base.metadata
        return [Database("finsentiment", ctx.var("finsentiment", "finsentiment.db"), tables,
                         skip=("apscheduler_jobs", "scheduler_leader"))]


def part() -> FinSentimentPart:
    """The monitor's SuitePart, found by `nlpsuite run` through the entry point in finsentiment/product.py."""
    return FinSentimentPart()
