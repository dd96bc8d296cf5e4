"""Package exports that load on first use (PEP 562), so importing a package for one light name
(``FineTuneArgs``, ``ServeRequest``) does not import torch, transformers or FastAPI."""
from __future__ import annotations

import importlib
from typing import Callable


def lazy_exports(package: str, homes: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: each name in ``homes`` comes from the submodule
    it maps to, imported (and cached in the package) the first time the name is used."""
    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{homes[name]}")
        value = getattr(module, name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
