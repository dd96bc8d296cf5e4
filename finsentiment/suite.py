"""The monitor's part in `nlpsuite run`: its database under ``var/finsentiment``, the core's
PhraseBank model, alert mail through the suite's local SMTP outbox (so the mails land in
``var/outbox`` as .eml files, the same way they would reach a real mail server), and the
polling daemon as a service. A real SMTP host is one config change: ``finsentiment.smtp``.
"""
from __future__ import annotations

from pathlib import Path

from shared.suite import Service, SuiteContext

READY_LINE = "finsentiment: polling"  # what `nlpsuite finsentiment run` prints once its model is loaded


class FinSentimentPart:
    name = "finsentiment"

    def load_config(self, path=None):
        """This product's section of ``path``, validated (for `nlpsuite config check`)."""
        from finsentiment.config import load_config

        return load_config(path)

    def defaults(self, ctx: SuiteContext) -> dict:
        return {"database_url": f"sqlite:///{ctx.var('finsentiment', 'finsentiment.db')}",
                "outbox_dir": str(ctx.var("outbox")), "model_dir": str(ctx.models["phrasebank"]),
                "notifier": "smtp",
                "smtp": {"host": ctx.settings.host, "port": ctx.settings.outbox_port,
                         "sender": "finsentiment@localhost"}}

    def prepare(self, ctx: SuiteContext) -> None:
        from finsentiment.config import load_config
        from shared.cli import CommandError

        config = load_config(ctx.config_file)
        if not (Path(config.model_dir) / "nlpsuite.json").is_file():
            raise CommandError(f"finsentiment.model_dir: {config.model_dir} holds no model; "
                               "remove the key to use the suite's, or fine-tune one with `nlpsuite finetune`")
        ctx.var("finsentiment").mkdir(parents=True, exist_ok=True)

    def services(self, ctx: SuiteContext) -> list[Service]:
        return [Service("monitor", ctx.module_command("shared.cli", "finsentiment", "run"),
                        ready_log=READY_LINE, ready_timeout_s=120)]


def part() -> FinSentimentPart:
    return FinSentimentPart()
