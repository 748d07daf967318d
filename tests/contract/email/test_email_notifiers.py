"""The e-mail adapters: SMTP against a local aiosmtpd server, and the embedded .eml outbox."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.email import LocalOutboxNotifier, SmtpNotifier, SmtpSettings
from portal_core.ports import Notification

SENDER = "Example Partners <portal@example.com>"
PASSWORD = "relay-password-0123"


def notification(key: str = "case_reply:ev-1:ann", body: str = "Filed today.") -> Notification:
    return Notification(
        to="ann@example.com",
        subject="New reply on request 00001001: VAT return – Q1",
        body=body,
        kind="case_reply",
        dedupe_key=key,
    )


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def authenticator(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == b"portal" and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for 127.0.0.1, and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def plain_server(mailbox: Mailbox) -> Iterator[int]:
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_a_notification_arrives_with_its_sender_subject_body_and_stable_message_id(
    mailbox: Mailbox, plain_server: int
) -> None:
    notifier = SmtpNotifier(
        SmtpSettings(host="127.0.0.1", port=plain_server, security="none", sender=SENDER)
    )
    notifier.send(notification())
    notifier.send(notification())
    first, second = mailbox.messages
    assert first["Subject"] == "New reply on request 00001001: VAT return – Q1"
    assert first["To"] == "ann@example.com"
    assert first["Auto-Submitted"] == "auto-generated"
    assert first.get_content().strip() == "Filed today."
    assert first["Message-ID"] == second["Message-ID"]
    assert mailbox.envelopes[0] == ("portal@example.com", ["ann@example.com"])


def test_the_relay_login_is_used_and_a_refusal_never_shows_the_password(
    mailbox: Mailbox, plain_server: int
) -> None:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=plain_server,
        security="none",
        username="portal",
        password=PASSWORD,
        sender=SENDER,
    )
    SmtpNotifier(settings).send(notification())
    assert len(mailbox.messages) == 1
    assert PASSWORD not in repr(settings)

    wrong = SmtpSettings(
        host="127.0.0.1",
        port=plain_server,
        security="none",
        username="portal",
        password="not-the-" + PASSWORD,
        sender=SENDER,
    )
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        SmtpNotifier(wrong).send(notification())
    assert PASSWORD not in str(refused.value)
    assert len(mailbox.messages) == 1


def test_starttls_checks_the_servers_certificate(mailbox: Mailbox) -> None:
    server_tls, client_tls = self_signed()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True
    )
    controller.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=port, security="starttls", sender=SENDER)
        SmtpNotifier(settings, tls=client_tls).send(notification())
        assert len(mailbox.messages) == 1
        with pytest.raises(ssl.SSLCertVerificationError):
            SmtpNotifier(settings).send(notification())  # the system's CAs never signed it
    finally:
        controller.stop()
    assert len(mailbox.messages) == 1


def test_an_unreachable_server_fails_the_send_so_the_outbox_retries_it() -> None:
    settings = SmtpSettings(
        host="127.0.0.1", port=free_port(), security="none", sender=SENDER, timeout=2
    )
    with pytest.raises(ConnectionRefusedError):
        SmtpNotifier(settings).send(notification())


def test_the_local_outbox_keeps_each_notification_once_as_a_readable_eml(tmp_path: Path) -> None:
    outbox = LocalOutboxNotifier(tmp_path / "outbox", sender=SENDER)
    outbox.send(notification())
    outbox.send(notification())
    outbox.send(notification(key="case_reply:ev-2:ann", body="And the receipt."))
    files = outbox.messages()
    assert len(files) == 2
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["From"] == SENDER
    assert parsed.get_content().strip() == "Filed today."
    assert not list((tmp_path / "outbox").glob(".writing-*"))
