"""The one base of every error a user can fix, caught once by the CLI (`shared.app.cli`).

A bad file, a wrong config key, a missing model folder, a port already taken: each is raised
as a subclass of ``NlpSuiteError`` and printed as one line without a traceback, exit status 2.
Anything else is a bug and keeps its traceback. This module imports nothing, so every layer
(the core library, the products, the app) can raise these errors.
"""
from __future__ import annotations


class NlpSuiteError(Exception):
    """Something the user can fix; the message says what and where."""


class CommandError(NlpSuiteError):
    """A command that cannot go on as asked (a missing prerequisite, a port in use)."""


__all__ = ["CommandError", "NlpSuiteError"]
