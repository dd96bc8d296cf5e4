"""One YAML config file for the whole suite, a section per app, with environment overrides.

Each app declares its section as a pydantic (v1, as Rasa pins it) model and loads it with
``load_section``. Values come from, in order of precedence:

1. environment variables ``NLPSUITE__<SECTION>__<FIELD>[__<SUBFIELD>...]`` (parsed as YAML,
   so ``NLPSUITE__FINSENTIMENT__SMTP__PORT=2525`` gives an int);
2. the YAML file (``--config``, else ``$NLPSUITE_CONFIG``, else ``nlpsuite.yml`` in the
   working directory when it exists);
3. the model's defaults, which are the embedded defaults (SQLite, local files, local outbox).

Secrets are never config values: a section names the environment variable that holds one
(e.g. ``smtp.password_env: NLPSUITE_SMTP_PASSWORD``) and the app reads it when it needs it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Type, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shared.errors import NlpSuiteError

T = TypeVar("T", bound=BaseModel)
ENV_PREFIX = "NLPSUITE__"
DEFAULT_FILE = "nlpsuite.yml"


class ConfigError(NlpSuiteError, ValueError):
    """A config file or value that cannot be used; the message names the file and key."""


def config_path(path: str | os.PathLike | None = None) -> Path | None:
    """The config file to read: ``path``, else ``$NLPSUITE_CONFIG``, else ./nlpsuite.yml (None when none exists)."""
    if path:
        return Path(path)
    if os.environ.get("NLPSUITE_CONFIG"):
        return Path(os.environ["NLPSUITE_CONFIG"])
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def read_config_file(path: str | os.PathLike | None = None) -> dict:
    """The whole YAML document as a dict ({} when there is no file)."""
    resolved = config_path(path)
    if resolved is None:
        return {}
    if not resolved.is_file():
        raise ConfigError(f"{resolved}: config file not found")
    try:
        data = yaml.safe_load(resolved.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{resolved}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{resolved}: the top level must be a mapping of sections")
    return data


def _env_overrides(section: str, environ) -> dict:
    prefix = f"{ENV_PREFIX}{section.upper()}__"
    result: dict = {}
    for key, raw in environ.items():
        if not key.startswith(prefix):
            continue
        parts = [p.lower() for p in key[len(prefix):].split("__") if p]
        if not parts:
            continue
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError:
            node[parts[-1]] = raw
    return result


def merge_mappings(base: dict, override: dict) -> dict:
    """``override`` on top of ``base``, nested mappings merged key by key (lists and scalars replaced)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_mappings(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_section(section: str, model: Type[T], path: str | os.PathLike | None = None,
                 environ=None) -> T:
    """Validate one section into ``model``; unknown keys are errors that name them."""
    environ = os.environ if environ is None else environ
    document = read_config_file(path)
    values = document.get(section) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{config_path(path)}: section '{section}' must be a mapping")
    values = merge_mappings(values, _env_overrides(section, environ))
    try:
        return model.parse_obj(values)
    except ValidationError as exc:
        where = config_path(path) or "defaults/environment"
        problems = "; ".join(  # a check across keys has no key of its own: name the section
            ".".join([section, *(str(p) for p in err["loc"] if p != "__root__")]) + f": {err['msg']}"
            for err in exc.errors())
        raise ConfigError(f"{where}: {problems}") from exc


class StrictModel(BaseModel):
    """Base for config sections: a misspelt key is an error, not silently ignored."""

    class Config:
        extra = "forbid"
        validate_assignment = True
