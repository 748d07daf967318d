"""A notification as an RFC 5322 message (stdlib `email`), the same for SMTP and the local outbox."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate

from portal_core.ports import Notification


def message_id(notification: Notification, sender: str) -> str:
    """The same notification always has the same Message-ID, so a duplicate is recognisable."""
    digest = hashlib.sha256(notification.dedupe_key.encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2].strip(">") or "portal.invalid"
    return f"<{digest}@{domain}>"


def build_message(notification: Notification, *, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notification.to
    message["Subject"] = notification.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(notification, sender)
    message["X-Portal-Kind"] = notification.kind
    # Automatic mail: out-of-office replies and mailing-list bounces should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(notification.body)
    return message
