"""E-mail adapters of the Notifier port: SMTP, and a local outbox of .eml files (embedded)."""

from adapters.email.local_outbox import LocalOutboxNotifier
from adapters.email.message import build_message
from adapters.email.smtp import SmtpNotifier, SmtpSettings

__all__ = ["LocalOutboxNotifier", "SmtpNotifier", "SmtpSettings", "build_message"]
