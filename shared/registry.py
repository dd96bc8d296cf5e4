"""One mechanism for everything looked up by name (spaCy's ``registry`` is the model).

A ``Registry`` maps names to objects. Code in this process registers with the decorator
``@registry.register("name")``; an installed package registers through the registry's
entry-point group in its pyproject.toml, loaded on first lookup, so nobody imports it by
name. An unknown name is an error that lists the known ones.

The suite's registries: task heads (``shared.models.heads``), inference backends
(``shared.inference.backends``), pretrained encoders (``shared.models.registry``), and the
installed products (entry-point group ``nlpsuite.products``: ``PRODUCTS``).
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Generic, Iterator, Optional, TypeVar

from shared.errors import NlpSuiteError

T = TypeVar("T")


class UnknownNameError(NlpSuiteError, KeyError, ValueError):
    """A name no one registered; the message lists the known ones. (A KeyError for lookups,
    a ValueError for callers that validate options.)"""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class Registry(Generic[T]):
    """Names to objects of one kind, filled by decorators and by an entry-point group.

    Args:
        kind: what is registered, for messages ("task head", "backend").
        entry_point_group: installed packages register here; None: in-process only.
    """

    def __init__(self, kind: str, entry_point_group: Optional[str] = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._loaded_entry_points = entry_point_group is None

    def register(self, name: str, obj: Optional[T] = None):
        """``registry.register(name, obj)``, or as a decorator ``@registry.register(name)``."""
        if obj is not None:
            self._items[name] = obj
            return obj

        def wrap(value: T) -> T:
            self._items[name] = value
            return value

        return wrap

    def _load_entry_points(self) -> None:
        if not self._loaded_entry_points:
            self._loaded_entry_points = True
            for entry in sorted(entry_points(group=self.entry_point_group), key=lambda e: e.name):
                self._items.setdefault(entry.name, entry.load())

    def get(self, name: str) -> T:
        """The object registered as ``name``."""
        self._load_entry_points()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}") from None

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self._load_entry_points()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        """(name, object) pairs in name order."""
        self._load_entry_points()
        return iter(sorted(self._items.items()))

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._items


PRODUCTS: Registry = Registry("product", "nlpsuite.products")
"""The installed products: one ``shared.product.Product`` each (commands, web plugin, suite part)."""
