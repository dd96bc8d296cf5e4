"""Which version of each classifier serves, since when, how good it is, and what the upgrade does.

One reading of ``var/models/*`` (``shared.model_versions`` pointers and the upgrade's
``upgrade.json``) for the three places that show it: ``/health``, the home page and
``nlpsuite models status``.
"""
from __future__ import annotations

from pathlib import Path

from shared.app.upgrade import read_status
from shared.model_versions import ModelVersions, VersionError, is_versioned


def model_roots(settings) -> dict[str, Path]:
    """The versions folders the suite serves: ``suite.models`` given by the user, else its own
    under ``<var_dir>/models`` (plain model folders, which never change, are left out)."""
    models = Path(settings.var_dir).resolve() / "models"
    roots = {root.name: root for root in sorted(models.iterdir()) if is_versioned(root)} if models.is_dir() else {}
    roots |= {name: Path(path) for name, path in settings.models.items()}
    return {name: root for name, root in sorted(roots.items()) if is_versioned(root)}


def model_status(settings) -> dict[str, dict]:
    """Task name -> what serves (version, recipe, since, validation and test figures) and the
    upgrade's last state (``settings``: the suite's, ``SuiteSettings``)."""
    out: dict[str, dict] = {}
    for name, root in model_roots(settings).items():
        versions = ModelVersions(root)
        try:
            current = versions.current()
        except VersionError as exc:
            out[name] = {"status": "broken", "error": str(exc)}
            continue
        out[name] = {"version": current.id, "recipe": current.info.recipe, "since": versions.since(),
                          "validation": current.info.validation, "test": current.info.test,
                          "versions": len(versions.all()), "upgrade": read_status(root)}
    return out


def describe(name: str, status: dict) -> str:
    """One line for a person: what serves and what the upgrade is doing."""
    if "version" not in status:
        return f"{name}: {status.get('error', 'no version')}"
    test = status["test"].get("accuracy")
    line = (f"{name}: {status['recipe']} version {status['version']} since {status['since']} (validation "
            f"macro-F1 {status['validation'].get('macro_f1')}, test accuracy {test})")
    upgrade = status.get("upgrade") or {}
    if upgrade.get("state") == "training":
        line += f"; training the {upgrade.get('recipe')} recipe in the background"
    elif upgrade.get("state") == "kept":
        line += f"; the {upgrade.get('recipe')} recipe did not beat it on validation"
    elif upgrade.get("state") == "failed":
        line += f"; the upgrade failed: {upgrade.get('error')}"
    return line
