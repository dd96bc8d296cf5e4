"""`nlpsuite config check [--config FILE]`: validate every section of the suite's YAML file.

Each section is checked by the product that owns it (the ``suite`` section by the core), with
the environment overrides applied, so a misspelt key, a wrong type or an unknown section is
reported with the file and the key before anything starts.
"""
from __future__ import annotations

import json

from shared.config import ConfigError, config_path, read_config_file


def check(path=None) -> dict:
    """Every section of the config at ``path`` validated, environment overrides applied; a report."""
    from shared.app.discovery import load_parts
    from shared.product.settings import load_settings

    document = read_config_file(path)
    where = config_path(path) or "defaults/environment"
    parts = {part.name: part for part in load_parts()}
    known = ["suite", *parts]
    unknown = [name for name in document if name not in known]
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    load_settings(path)
    for part in parts.values():
        part.load_config(path)
    return {"config": str(where), "sections_in_file": list(document), "checked": known, "status": "ok"}


def cmd_config(options) -> int:
    """`nlpsuite config check`: print the report; a wrong key fails naming it."""
    print(json.dumps(check(options.config)))
    return 0


def register(subparsers) -> None:
    """The `config check` command."""
    p = subparsers.add_parser("config", help="check the suite's config file")
    commands = p.add_subparsers(dest="config_command", metavar="COMMAND")
    commands.required = True
    c = commands.add_parser("check", help="validate every section (file and NLPSUITE__... variables)")
    c.add_argument("--config", help="the file (default: $NLPSUITE_CONFIG or ./nlpsuite.yml)")
    c.set_defaults(func=cmd_config)
