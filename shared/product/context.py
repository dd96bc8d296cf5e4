"""What the app hands a product while it runs the suite, and what a product gives back.

A product's suite part (``Product.suite``, a ``SuitePart`` subclass) gives four things, and may
override the hooks that have defaults (``classifiers``, ``prepare_title``, ``prepare_minutes``,
``databases``):

- ``load_config(path)``: its section of nlpsuite.yml, validated (``nlpsuite config check``);
- ``defaults(ctx)``: its config section under the suite (paths inside ``var/``, the models the
  app prepared); the user's nlpsuite.yml and ``NLPSUITE__...`` variables still win;
- ``prepare(ctx)``: build what its servers need (databases, indexes, trained models), skipping
  what is already there, so a second run is quick;
- ``services(ctx)``: the processes to start, each with a readiness check;
- ``classifiers()``: the classifiers the app fine-tunes for it before ``prepare``
  (``ClassifierSpec``);
- ``databases(ctx)``: its embedded SQLite files and their tables (``Database``), which
  `nlpsuite migrate --to postgres` copies into ``suite.database_url``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from shared.product.services import Service
from shared.product.settings import SuiteSettings

if TYPE_CHECKING:
    from shared.product.database import Database


@dataclass
class SuiteContext:
    """The running suite as a product sees it: settings, folders, prepared models, the token."""

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
    """The suite's API token (shared.product.token); services get it as ``$<suite.token_env>``."""
    logging_config: Optional[Path] = None
    """A logging config file with the suite's log format (for `rasa run --logging-config-file`,
    `uvicorn --log-config`), written by the app before it asks for services."""

    def module_command(self, module: str, *args: str) -> list[str]:
        """``python -P -m module args``: -P keeps the working directory off sys.path, so a folder
        there named like a package (a ``recommender/`` model folder, say) cannot shadow it."""
        return [self.python, "-P", "-m", module, *args]

    def var(self, *parts: str) -> Path:
        """A path under the suite's ``var/`` folder."""
        return self.var_dir.joinpath(*parts)

    @property
    def web_url(self) -> str:
        """Where the suite's web app answers."""
        return f"http://{self.settings.host}:{self.settings.web_port}"


class SuitePart:
    """A product's part in `nlpsuite run`: subclass it, set ``name`` and implement the four
    required methods; the hooks below have defaults a product overrides when it has more to say.

    The runner calls every method directly, so this class is the whole contract a product
    implements (see the module docstring for the order in which they are called).
    """

    name: str = ""
    """Also the name of the product's section in nlpsuite.yml."""

    def load_config(self, path=None):
        """This product's config section of ``path``, validated (`nlpsuite config check`)."""
        raise NotImplementedError

    def defaults(self, ctx: SuiteContext) -> dict:
        """This product's config defaults under the suite's ``var/``."""
        raise NotImplementedError

    def prepare(self, ctx: SuiteContext) -> None:
        """Build what the servers need, skipping what is already there."""
        raise NotImplementedError

    def services(self, ctx: SuiteContext) -> list[Service]:
        """The servers to start, each with its readiness check."""
        raise NotImplementedError

    def classifiers(self) -> list:
        """The classifiers (``ClassifierSpec``) the app fine-tunes and serves for this product; none by default."""
        return []

    def prepare_title(self, ctx: SuiteContext) -> str:
        """What ``prepare`` does, for the plan the runner prints."""
        return f"prepare the {self.name}"

    def prepare_minutes(self, ctx: SuiteContext) -> float:
        """About how long ``prepare`` takes on 2 cores now (a quick one when all is built), for the plan."""
        return 0.1

    def databases(self, ctx: SuiteContext) -> list[Database]:
        """The product's SQLite files under ``ctx.var_dir`` in the embedded suite, with their tables,
        for `nlpsuite migrate --to postgres`; none by default (a product that keeps no data)."""
        return []
