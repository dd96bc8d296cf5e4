"""The one exception every data problem raises.

Users fix bad data in an editor, so each error says where: ``path:line: field 'f': reason``.
It subclasses ValueError so callers that already catch ValueError keep working.
"""

from __future__ import annotations

from pathlib import Path

from shared.errors import NlpSuiteError


class DataError(NlpSuiteError, ValueError):
    """Bad input data; the message always names the file and, where known, the line
    (1-based, as an editor shows it) and the field."""

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ):
        self.reason = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        where = self.path or ""
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        parts = [p for p in (where, f"field {field!r}" if field else "") if p]
        super().__init__(": ".join(parts + [message]))
