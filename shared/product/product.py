"""A product as the app sees it: one object per product, found by one entry point.

Each product's package has a module ``product.py`` with ``PRODUCT = Product(...)``, named in
pyproject.toml under the entry-point group ``nlpsuite.products``. The object says where the
product's three contributions are, as ``module:attribute`` strings, imported only when the app
needs that one (``nlpsuite --help`` imports no product's web code, the web app no CLI code):

- ``commands``: ``register(subparsers)``, its ``nlpsuite <product> ...`` commands;
- ``web``: ``plugin(config_path) -> WebPlugin``, its router and pages in the one web app;
- ``suite``: ``part() -> SuitePart``, its config, classifiers, preparation and servers.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Optional


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Product:
    """One product's contributions, by ``module:attribute`` (see the module docstring)."""

    name: str
    commands: Optional[str] = None
    web: Optional[str] = None
    suite: Optional[str] = None

    def register_commands(self, subparsers) -> None:
        """Add the product's ``nlpsuite <name> ...`` commands to the CLI."""
        if self.commands:
            _load(self.commands)(subparsers)

    def web_plugin(self, config_path=None):
        """The product's web plugin for ``config_path``, or None if it has no pages."""
        return _load(self.web)(config_path) if self.web else None

    def suite_part(self):
        """The product's part in `nlpsuite run`, or None if it runs no servers."""
        return _load(self.suite)() if self.suite else None
