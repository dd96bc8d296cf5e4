"""`nlpsuite recommender ...` subcommands, registered through the nlpsuite.commands entry point."""
from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("recommender", help="the recommender product")
    commands = parser.add_subparsers(dest="recommender_command", metavar="COMMAND")
    commands.required = True
