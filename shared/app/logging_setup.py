"""One log format for every process of the suite (the CLI, the web app, the monitor, the
outbox); `nlpsuite run` also hands it to Rasa through a logging config file."""
from __future__ import annotations

import logging
import os

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int | str | None = None) -> None:
    """The suite's log format on stderr, at ``level`` or $NLPSUITE_LOG_LEVEL (default INFO)."""
    level = level or os.environ.get("NLPSUITE_LOG_LEVEL", "INFO")
    logging.basicConfig(level=level, format=LOG_FORMAT)


def write_logging_config(path) -> str:
    """A logging config file with the suite's format, for `rasa run --logging-config-file`
    and `uvicorn --log-config` (both take a logging.config.dictConfig YAML file)."""
    import yaml

    config = {"version": 1, "disable_existing_loggers": False,
              "formatters": {"suite": {"format": LOG_FORMAT}},
              "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "suite"}},
              "root": {"handlers": ["console"], "level": "INFO"},
              # uvicorn's own loggers would otherwise keep their format and handlers
              "loggers": {**{name: {"handlers": [], "propagate": True}
                             for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
                          "httpx": {"level": "WARNING"}}}  # one line per proxied request is noise
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return str(path)
