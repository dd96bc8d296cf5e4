"""What a product contributes to `nlpsuite run`, registered by name (entry-point group
``nlpsuite.suite``), so the core starts whatever products are installed without importing them.

A part gives four things:

- ``load_config(path)``: its section of nlpsuite.yml, validated (``nlpsuite config check``);
- ``defaults(ctx)``: its config section under the suite (paths inside ``var/``, the models the
  core prepared); the user's nlpsuite.yml and ``NLPSUITE__...`` variables still win;
- ``prepare(ctx)``: build what its servers need (databases, indexes, trained models), skipping
  what is already there, so a second run is quick;
- ``services(ctx)``: the processes to start, each with a readiness check.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

from shared.suite.services import Service
from shared.suite.settings import SuiteSettings

ENTRY_POINT_GROUP = "nlpsuite.suite"


@dataclass
class SuiteContext:
    settings: SuiteSettings
    var_dir: Path
    config_file: Path
    """The effective config every process reads (written by the runner into ``var_dir``)."""
    models: dict[str, Path] = field(default_factory=dict)
    """The core's prepared classifiers by task: ``banking77``, ``phrasebank`` (int8 folders)."""
    links: dict[str, str] = field(default_factory=dict)
    """Extra lines for the summary the runner prints (label -> URL or path)."""
    python: str = sys.executable

    def module_command(self, module: str, *args: str) -> list[str]:
        """``python -P -m module args``: -P keeps the working directory off sys.path, so a folder
        there named like a package (a ``recommender/`` model folder, say) cannot shadow it."""
        return [self.python, "-P", "-m", module, *args]

    def var(self, *parts: str) -> Path:
        return self.var_dir.joinpath(*parts)

    @property
    def web_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.web_port}"


class SuitePart(Protocol):
    name: str
    """Also the name of the product's section in nlpsuite.yml."""

    def load_config(self, path=None): ...

    def defaults(self, ctx: SuiteContext) -> dict: ...

    def prepare(self, ctx: SuiteContext) -> None: ...

    def services(self, ctx: SuiteContext) -> list[Service]: ...


def load_parts() -> list[SuitePart]:
    return [entry.load()() for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)]
