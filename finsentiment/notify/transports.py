"""How a finished alert mail leaves: SMTP to a real server, .eml files in an outbox folder
(the offline default), or a list in memory (tests).

Like Alertmanager's notifiers, a failure says whether it is worth retrying
(``NotifyError.retryable``): a server that is down or answers 4xx will be tried again next
round; a wrong password, a refused recipient or any 5xx reply will not succeed by repetition.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from finsentiment.config import FinSentimentConfig, SmtpConfig
from shared.errors import NlpSuiteError
from shared.mailbox import store_eml

logger = logging.getLogger("finsentiment.notify")


class NotifyError(NlpSuiteError):
    """A message that could not be handed over. ``retryable``: whether trying again later can
    succeed (False for a wrong password, a refused recipient, a 5xx reply)."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def _smtp_retryable(exc: Exception) -> bool:
    if isinstance(exc, (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused,
                        smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError)):
        return False
    code = getattr(exc, "smtp_code", None)
    return not (isinstance(code, int) and code >= 500)  # 4xx and connection trouble: transient


class Notifier(Protocol):
    """What delivery needs of a transport: ``send`` hands over a finished message or raises NotifyError,
    whose ``retryable`` decides whether the alert is tried again."""

    def send(self, message: EmailMessage) -> None: ...


class SmtpNotifier:
    """smtplib against the configured server (optional implicit TLS or STARTTLS and login)."""

    def __init__(self, config: SmtpConfig):
        self.config = config

    def tls_context(self) -> ssl.SSLContext:
        """Verifying context: smtplib's own default for STARTTLS checks no certificate at all."""
        return ssl.create_default_context(cafile=self.config.ca_file)

    def send(self, message: EmailMessage) -> None:
        c = self.config
        try:
            if c.ssl:
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s, context=self.tls_context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
            with smtp:
                if c.starttls and not c.ssl:
                    smtp.starttls(context=self.tls_context())
                if c.user:
                    smtp.login(c.user, c.password())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"SMTP {c.host}:{c.port}: {type(exc).__name__}: {exc}",
                              retryable=_smtp_retryable(exc)) from exc


class OutboxNotifier:
    """Writes each mail as an .eml file in the outbox folder (``shared.mailbox``); any mail
    client opens them."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def send(self, message: EmailMessage) -> None:
        try:
            store_eml(self.folder, bytes(message))
        except OSError as exc:  # a full disk may pass; a folder we may not write to will not
            raise NotifyError(f"outbox {self.folder}: {exc}", retryable=not isinstance(exc, PermissionError)) from exc


class MemoryNotifier:
    """Keeps messages in a list; ``fail_times`` makes the first sends fail (for retry tests),
    ``permanent`` makes those failures permanent ones."""

    def __init__(self, fail_times: int = 0, permanent: bool = False):
        self.messages: list[EmailMessage] = []
        self.fail_times = fail_times
        self.permanent = permanent
        self.calls = 0

    def send(self, message: EmailMessage) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise NotifyError("memory notifier: simulated failure", retryable=not self.permanent)
        self.messages.append(message)


def build_notifier(config: FinSentimentConfig) -> Notifier:
    """The configured transport: SMTP when ``notifier`` is smtp, else .eml files in ``outbox_dir``."""
    return SmtpNotifier(config.smtp) if config.notifier == "smtp" else OutboxNotifier(config.outbox_dir)
