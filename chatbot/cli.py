"""`nlpsuite chatbot ...` subcommands, registered through the nlpsuite.commands entry point."""
from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("chatbot", help="the chatbot product")
    commands = parser.add_subparsers(dest="chatbot_command", metavar="COMMAND")
    commands.required = True
