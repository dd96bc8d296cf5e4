"""Alert mails: what they say (``render``), how they leave (``transports``) and what was sent
(``delivery``).

A ``Notifier`` only sends a finished ``EmailMessage``; the SMTP one talks to a real server,
the outbox one writes .eml files (the offline default), the memory one keeps them for tests.
Like Alertmanager's notifiers, a failure says whether it is worth retrying
(``NotifyError.retryable``): a server that is down or answers 4xx will be tried again next
round; a wrong password, a refused recipient or any 5xx reply will not succeed by repetition,
so the alert is marked ``failed`` with the reason and waits until the mail settings change.

``deliver_pending`` is the only place that changes an alert's delivery state: ``sent`` once the
server accepted it (and only then does the topic count as notified, for the repeat interval),
and a resolved mail never leaves before the firing mail of its spike.
"""
from finsentiment.notify.delivery import deliver_pending, mail_settings_fingerprint
from finsentiment.notify.render import build_message, message_for, subject_of
from finsentiment.notify.transports import (
    MemoryNotifier,
    Notifier,
    NotifyError,
    OutboxNotifier,
    SmtpNotifier,
    build_notifier,
)

__all__ = ["Notifier", "NotifyError", "OutboxNotifier", "SmtpNotifier", "build_message",
           "build_notifier", "deliver_pending", "mail_settings_fingerprint", "message_for", "subject_of"]
