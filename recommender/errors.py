"""The recommender's errors, each a ``shared.errors.NlpSuiteError``: the CLI prints them as one
line and the web layer picks the status code by type (``recommender.web``), so they keep their
type from where they are raised to the edge."""
from __future__ import annotations

from shared.errors import NlpSuiteError


class RecommenderError(NlpSuiteError, ValueError):
    """A request the caller can fix (bad k, unknown item, bad event); HTTP 4xx, CLI exit 2."""


class FolderExistsError(NlpSuiteError, FileExistsError):
    """``fit`` into a folder that already holds a recommender, without ``overwrite`` (--force)."""
