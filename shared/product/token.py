"""The suite's one API token: who may call the write and admin endpoints of every service.

Made for the user on the first run: a random token in ``<var>/secrets/api-token`` (mode 0600,
readable only by its owner), or taken from the environment variable that ``suite.token_env``
names (for a deployment that keeps secrets elsewhere). `nlpsuite token` prints it. It is never
logged, never written into the effective config, and passed to child processes only through
their environment, so it does not show in a process list.
"""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from shared.config import ConfigError

TOKEN_FILE = Path("secrets") / "api-token"
MIN_LENGTH = 16


def token_path(var_dir: str | Path) -> Path:
    """Where the suite keeps its API token under ``var_dir``."""
    return Path(var_dir) / TOKEN_FILE


def load_api_token(var_dir: str | Path, env_name: str = "NLPSUITE_API_TOKEN", *, create: bool = True) -> str:
    """The token from ``$env_name``, else from the 0600 file under ``var_dir`` (made if missing)."""
    value = os.environ.get(env_name)
    if value is not None:
        if len(value.strip()) < MIN_LENGTH:
            raise ConfigError(f"${env_name} (suite.token_env) holds a token shorter than {MIN_LENGTH} characters")
        return value.strip()
    path = token_path(var_dir)
    if path.is_file():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(f"{path}: the API token is readable by other users (mode {mode:o}); "
                              f"run `chmod 600 {path}`")
        token = path.read_text(encoding="utf-8").strip()
        if len(token) < MIN_LENGTH:
            raise ConfigError(f"{path}: the API token is shorter than {MIN_LENGTH} characters")
        return token
    if not create:
        raise ConfigError(f"no API token yet: neither ${env_name} nor {path}; `nlpsuite run` makes one")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token


def suite_api_token(config_path=None, *, create: bool = True) -> str:
    """The token of the suite configured by ``config_path`` (its ``var_dir`` and ``token_env``)."""
    from shared.product.settings import load_settings

    settings = load_settings(config_path)
    return load_api_token(Path(settings.var_dir), settings.token_env, create=create)
