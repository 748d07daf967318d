"""Sign-in events: what the audit trail keeps and the outbox delivers (e-mails).

Links travel in the two events that must be e-mailed (`InvitationSent`,
`PasswordResetRequested`), so the outbox row holds the link until it is delivered; the audit
trail never does. No event carries a password, hash, TOTP secret or session token.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from attrs import field, frozen

from portal_core.events import DomainEvent


@frozen(kw_only=True)
class InvitationSent(DomainEvent):
    kind: ClassVar[str] = "invitation_sent"

    user_id: str
    email: str
    name: str
    link: str = field(repr=False)
    expires_at: datetime


@frozen(kw_only=True)
class InvitationAccepted(DomainEvent):
    kind: ClassVar[str] = "invitation_accepted"

    user_id: str


@frozen(kw_only=True)
class PasswordResetRequested(DomainEvent):
    kind: ClassVar[str] = "password_reset_requested"

    user_id: str
    email: str
    name: str
    link: str = field(repr=False)
    expires_at: datetime


@frozen(kw_only=True)
class PasswordChanged(DomainEvent):
    """Delivered so that the person hears of it, in case it was not them."""

    kind: ClassVar[str] = "password_changed"

    user_id: str
    email: str


@frozen(kw_only=True)
class SecondFactorEnabled(DomainEvent):
    kind: ClassVar[str] = "second_factor_enabled"

    user_id: str
    email: str


@frozen(kw_only=True)
class SecondFactorDisabled(DomainEvent):
    kind: ClassVar[str] = "second_factor_disabled"

    user_id: str
    email: str


@frozen(kw_only=True)
class UserSignedIn(DomainEvent):
    kind: ClassVar[str] = "user_signed_in"

    user_id: str
    client_address: str
    second_factor: bool


@frozen(kw_only=True)
class SessionsRevoked(DomainEvent):
    kind: ClassVar[str] = "sessions_revoked"

    user_id: str
    count: int
    reason: str
