"""Which e-mails a person wants: every kind is on until they turn it off, except security mails.

Security mails (an invitation, a password reset link, a changed password, a second factor
turned on or off) cannot be turned off: they are how a person learns that someone else is
using their account. Preferences are kept per user, apart from the unit of work: they change
nothing else, and nothing else changes them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Protocol

from attrs import evolve, field, frozen

from portal_core.errors import InvalidInput, PermissionDenied
from portal_core.organisations.model import Principal


class NotificationKind(enum.StrEnum):
    CASE_CREATED = "case_created"
    CASE_STATUS_CHANGED = "case_status_changed"
    CASE_REPLY = "case_reply"
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_REMINDER = "payment_reminder"
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a kind of e-mail, not a secret)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    SECOND_FACTOR_CHANGED = "second_factor_changed"

    @property
    def mandatory(self) -> bool:
        return self in MANDATORY_KINDS


MANDATORY_KINDS = frozenset(
    {
        NotificationKind.INVITATION,
        NotificationKind.PASSWORD_RESET,
        NotificationKind.PASSWORD_CHANGED,
        NotificationKind.SECOND_FACTOR_CHANGED,
    }
)
"""Security mails: always sent, whatever the person's preferences."""

OPTIONAL_KINDS: tuple[NotificationKind, ...] = tuple(
    kind for kind in NotificationKind if kind not in MANDATORY_KINDS
)

KIND_LABELS: Mapping[NotificationKind, str] = {
    NotificationKind.CASE_CREATED: "A request is submitted",
    NotificationKind.CASE_STATUS_CHANGED: "A request changes status",
    NotificationKind.CASE_REPLY: "A reply is posted on a request",
    NotificationKind.INVOICE_ISSUED: "An invoice is issued",
    NotificationKind.PAYMENT_RECEIVED: "A payment or refund is recorded",
    NotificationKind.PAYMENT_REMINDER: "An invoice is due or overdue",
    NotificationKind.INVITATION: "Invitations",
    NotificationKind.PASSWORD_RESET: "Password reset links",
    NotificationKind.PASSWORD_CHANGED: "Your password was changed",
    NotificationKind.SECOND_FACTOR_CHANGED: "Your second factor was turned on or off",
}

# The kinds other packages send under their own names (payments' notices).
_OTHER_NAMES: Mapping[str, NotificationKind] = {
    "payment_receipt": NotificationKind.PAYMENT_RECEIVED,
    "payment_refund": NotificationKind.PAYMENT_RECEIVED,
    "payment_reminder": NotificationKind.PAYMENT_REMINDER,
}


def kind_named(name: str) -> NotificationKind | None:
    """The kind a notification's `kind` text stands for; None for a kind nobody can turn off."""
    if name in _OTHER_NAMES:
        return _OTHER_NAMES[name]
    try:
        return NotificationKind(name)
    except ValueError:
        return None


def _kinds(value: Iterable[NotificationKind]) -> frozenset[NotificationKind]:
    return frozenset(value)


@frozen(kw_only=True)
class NotificationPreferences:
    user_id: str
    turned_off: frozenset[NotificationKind] = field(factory=frozenset, converter=_kinds)

    def __attrs_post_init__(self) -> None:
        if self.turned_off & MANDATORY_KINDS:
            raise InvalidInput("Security e-mails cannot be turned off.")

    def wants(self, kind: NotificationKind) -> bool:
        return kind.mandatory or kind not in self.turned_off

    def with_choice(self, kind: NotificationKind, *, enabled: bool) -> NotificationPreferences:
        if kind.mandatory and not enabled:
            raise InvalidInput(f"{KIND_LABELS[kind]}: security e-mails cannot be turned off.")
        changed = self.turned_off - {kind} if enabled else self.turned_off | {kind}
        return evolve(self, turned_off=changed)


class NotificationPreferenceRepository(Protocol):
    def get(self, user_id: str) -> NotificationPreferences:
        """The user's preferences; everything on when they never chose."""
        ...

    def save(self, preferences: NotificationPreferences) -> None: ...


class NotificationPreferencesService:
    """What the account page calls: people read and change only their own preferences."""

    def __init__(self, *, preferences: NotificationPreferenceRepository) -> None:
        self._preferences = preferences

    def get(self, principal: Principal) -> NotificationPreferences:
        return self._preferences.get(_person(principal))

    def set(
        self, principal: Principal, choices: Mapping[NotificationKind, bool]
    ) -> NotificationPreferences:
        """Turn each kind in `choices` on (True) or off (False); other kinds stay as they are."""
        current = self._preferences.get(_person(principal))
        for kind, enabled in choices.items():
            current = current.with_choice(kind, enabled=enabled)
        self._preferences.save(current)
        return current


def _person(principal: Principal) -> str:
    if principal.user_id.startswith("system:"):
        raise PermissionDenied("Only a person has e-mail preferences.")
    return principal.user_id
