"""What a product contributes to `nlpsuite run`, registered by name (entry-point group
``nlpsuite.suite``), so the core starts whatever products are installed without importing them.

A part gives four things, and may declare a fifth:

- ``load_config(path)``: its section of nlpsuite.yml, validated (``nlpsuite config check``);
- ``defaults(ctx)``: its config section under the suite (paths inside ``var/``, the models the
  core prepared); the user's nlpsuite.yml and ``NLPSUITE__...`` variables still win;
- ``prepare(ctx)``: build what its servers need (databases, indexes, trained models), skipping
  what is already there, so a second run is quick;
- ``services(ctx)``: the processes to start, each with a readiness check;
- ``classifiers()``: the classifiers the suite fine-tunes for it before ``prepare`` (a list of
  ``ClassifierSpec``: the data, the hyperparameters per profile), so the core trains what the
  products need without knowing their data sets.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable, Protocol

from shared.suite.services import Service
from shared.suite.settings import SuiteSettings

ENTRY_POINT_GROUP = "nlpsuite.suite"
PROFILE_NAMES = ("quick", "full")
"""quick: minutes on a 2-core laptop; full: the benchmark hyperparameters (docs/benchmarks.md)."""


@dataclass
class ClassifierSpec:
    """A classifier a product needs: fine-tuned once by `nlpsuite run`, cached under
    ``var/models/<name>-<profile>`` and exported to int8 ONNX next to it."""

    name: str
    """The task's key: ``suite.models.<name>`` points at a ready folder instead of training."""
    title: str
    """What it is, for the plan `nlpsuite run` prints (e.g. "intent model: BANKING77 + the bot's own")."""
    load_data: Callable[[], dict]
    """Returns ``{"train": LabelledTexts}`` plus optional ``"validation"`` and ``"test"``."""
    profiles: dict
    """Profile name -> ``FineTuneArgs``; every name of ``PROFILE_NAMES``."""
    expected_minutes: dict
    """Profile name -> minutes it took on 2 cores, printed so that nobody wonders whether it hangs."""
    demo_texts: tuple = ()
    """Classified by `nlpsuite run --prepare-only` to show the model at work."""


@dataclass
class SuiteContext:
    settings: SuiteSettings
    var_dir: Path
    config_file: Path
    """The effective config every process reads (written by the runner into ``var_dir``)."""
    models: dict[str, Path] = field(default_factory=dict)
    """The prepared classifiers by task name (``ClassifierSpec.name``): their int8 folders."""
    links: dict[str, str] = field(default_factory=dict)
    """Extra lines for the summary the runner prints (label -> URL or path)."""
    python: str = sys.executable
    api_token: str = ""
    """The suite's API token (shared.suite.token); services get it as ``$<suite.token_env>``."""

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


def classifier_specs(parts) -> list[ClassifierSpec]:
    """Every classifier the installed products declare, in part order (names must be unique)."""
    specs: list[ClassifierSpec] = []
    for part in parts:
        for spec in getattr(part, "classifiers", lambda: [])():
            if any(s.name == spec.name for s in specs):
                raise ValueError(f"two products declare the classifier {spec.name!r}")
            specs.append(spec)
    return specs
