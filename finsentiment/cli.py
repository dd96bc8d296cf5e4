"""`nlpsuite finsentiment ...` subcommands, registered through the nlpsuite.commands entry point."""
from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("finsentiment", help="the finsentiment product")
    commands = parser.add_subparsers(dest="finsentiment_command", metavar="COMMAND")
    commands.required = True
