"""The installed products, found by name (entry-point group ``nlpsuite.products``), so the app
starts whatever products are installed without importing them by name."""
from __future__ import annotations

from shared.product import ClassifierSpec, SuitePart
from shared.registry import PRODUCTS


def load_parts() -> list[SuitePart]:
    """Every installed product's suite part, in name order."""
    return [part for _, product in PRODUCTS.items() if (part := product.suite_part()) is not None]


def classifier_specs(parts) -> list[ClassifierSpec]:
    """Every classifier the installed products declare, in part order (names must be unique)."""
    specs: list[ClassifierSpec] = []
    for part in parts:
        for spec in getattr(part, "classifiers", lambda: [])():
            if any(s.name == spec.name for s in specs):
                raise ValueError(f"two products declare the classifier {spec.name!r}")
            specs.append(spec)
    return specs
