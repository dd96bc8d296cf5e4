"""The local mail outbox: a real SMTP server on loopback that stores each message it receives
as an .eml file, so alert mails can be read in any mail client without a mail account.

    python -m shared.app.outbox --dir var/outbox [--host 127.0.0.1 --port 8025]

`nlpsuite run` starts it and points the monitor's SMTP notifier at it; a real mail server is
one config change away (``finsentiment.smtp.host``). Each mail is stored by
``shared.mailbox.store_eml`` (atomic: a reader never sees half a message).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from shared.mailbox import store_eml

logger = logging.getLogger("nlpsuite.outbox")


class OutboxHandler:
    """aiosmtpd handler: one ``<UTC time>-<n>.eml`` per accepted message."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        path = store_eml(self.folder, envelope.original_content or envelope.content)
        logger.info("stored mail from %s to %s as %s", envelope.mail_from, ", ".join(envelope.rcpt_tos), path.name)
        return "250 Message stored in the outbox"


def serve(folder: str | os.PathLike, host: str = "127.0.0.1", port: int = 8025,
          stop: threading.Event | None = None) -> None:
    """Store every mail sent to ``host:port`` in ``folder`` until ``stop`` is set (or Ctrl-C/SIGTERM)."""
    from aiosmtpd.controller import Controller

    controller = Controller(OutboxHandler(folder), hostname=host, port=port)
    controller.start()
    logger.info("SMTP outbox on %s:%d writing to %s", host, port, folder)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():  # a process of its own: stop on Ctrl-C/SIGTERM
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        controller.stop()
        logger.info("SMTP outbox stopped")


def main(argv=None) -> int:
    """`python -m shared.app.outbox`: the outbox as a process of its own."""
    from shared.app.logging_setup import configure_logging

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True, help="folder for the .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    options = parser.parse_args(argv)
    configure_logging()
    serve(options.dir, options.host, options.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
