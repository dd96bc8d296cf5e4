"""The contract between the app and the products, in the core: what a product declares (its
classifiers, its servers, its web pages) and what the app hands it (``SuiteContext``).

Products import these names from here and nothing from ``shared.app``; the app discovers the
products by entry point and imports none of them by name (docs/architecture.md). The names
load on first use, so a command that needs none of them (``nlpsuite --help``) pays nothing
for FastAPI or httpx.
"""
from __future__ import annotations

from shared.lazy import lazy_exports

_HOMES = {
    "PROFILE_NAMES": "classifiers", "ClassifierSpec": "classifiers",
    "Database": "database", "SuiteContext": "context", "SuitePart": "context",
    "ServeRequest": "services", "Service": "services", "http_ready": "services", "smtp_ready": "services",
    "replica_port": "services",
    "SuiteSettings": "settings",
    "WebPlugin": "web", "render_page": "web", "require_token": "web", "is_operator": "web",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
