"""The installed products, found by name (entry-point group ``nlpsuite.products``), so the app
starts whatever products are installed without importing them by name."""
from __future__ import annotations

from shared.product import ClassifierSpec, SuitePart
from shared.registry import PRODUCTS


def load_parts() -> list[SuitePart]:
    """Every installed product's suite part, in name order; a part that is not a ``SuitePart`` is
    refused by name (the runner calls the contract's hooks directly)."""
    parts = []
    for name, product in PRODUCTS.items():
        part = product.suite_part()
        if part is not None and not isinstance(part, SuitePart):
            raise TypeError(f"product {name!r}: its suite part {type(part).__name__} must subclass "
                            "shared.product.SuitePart")
        if part is not None:
            parts.append(part)
    return parts


def classifier_specs(parts) -> list[ClassifierSpec]:
    """Every classifier the installed products declare, in part order (names must be unique)."""
    specs: list[ClassifierSpec] = []
    for part in parts:
        for spec in part.classifiers():
            if any(s.name == spec.name for s in specs):
                raise ValueError(f"two products declare the classifier {spec.name!r}")
            specs.append(spec)
    return specs
