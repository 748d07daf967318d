"""E-mail over SMTP with the standard library: one connection per message, with timeouts.

STARTTLS (port 587) or implicit TLS (port 465) with certificate checks; the password is held
out of every repr and log line.
"""

from __future__ import annotations

import logging
import smtplib
import ssl

from attrs import field, frozen

from adapters.email.message import build_message
from portal_core.ports import Notification

log = logging.getLogger(__name__)


@frozen(kw_only=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"
    """`starttls` (upgrade a plain connection), `tls` (implicit TLS, port 465) or `none`."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str
    timeout: float = 15.0


class SmtpNotifier:
    """Sends notifications through an SMTP server (the firm's relay, SES's SMTP interface, ...).

    Every call sends: the worker puts `OnceOnlyNotifier` in front, which keeps each dedupe key
    to one e-mail across retries and workers."""

    def __init__(self, settings: SmtpSettings, *, tls: ssl.SSLContext | None = None) -> None:
        if settings.security not in ("starttls", "tls", "none"):
            raise ValueError("SMTP security is starttls, tls or none.")
        self._settings = settings
        self._tls = tls or ssl.create_default_context()

    def send(self, notification: Notification) -> None:
        message = build_message(notification, sender=self._settings.sender)
        with self._connect() as smtp:
            smtp.send_message(message)
        log.info(
            "e-mail %s (%s) handed to %s",
            notification.dedupe_key,
            notification.kind,
            self._settings.host,
        )

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.security == "starttls":
                smtp.starttls(context=self._tls)
            if s.username is not None:
                try:
                    smtp.login(s.username, s.password or "")
                except smtplib.SMTPAuthenticationError as refused:
                    # The server's reply may quote what was sent; the exception names only the user.
                    raise smtplib.SMTPAuthenticationError(
                        refused.smtp_code, f"SMTP login refused for {s.username}"
                    ) from None
        except BaseException:
            smtp.close()
            raise
        return smtp
