"""One log format for every process of the suite (the CLI, the web app, the monitor, the
outbox); `nlpsuite run` also hands it to Rasa through a logging config file."""
from __future__ import annotations

import logging
import os

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int | str | None = None) -> None:
    level = level or os.environ.get("NLPSUITE_LOG_LEVEL", "INFO")
    logging.basicConfig(level=level, format=LOG_FORMAT)


def rasa_logging_config(path) -> str:
    """A logging config file for `rasa run --logging-config-file` with the suite's format."""
    import yaml

    config = {"version": 1, "disable_existing_loggers": False,
              "formatters": {"suite": {"format": LOG_FORMAT}},
              "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "suite"}},
              "root": {"handlers": ["console"], "level": "INFO"}}
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return str(path)
