"""Organisations (the firm's clients), their users, roles, and the principal who is asking."""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import field, frozen

from portal_core.errors import InvalidInput


class Role(enum.StrEnum):
    """What a user may do. Client roles belong to one organisation; staff roles to the firm."""

    CLIENT_VIEWER = "client_viewer"
    """Reads the organisation's cases, public comments and files; changes nothing."""
    CLIENT_ADMIN = "client_admin"
    """Submits and comments on cases, uploads files, manages the organisation's contacts."""
    BILLING_CONTACT = "billing_contact"
    """Sees, downloads and pays the organisation's invoices."""
    STAFF = "staff"
    """Works on cases of every organisation: status, internal notes, time, invoices."""
    ADMIN = "admin"
    """Staff, plus onboarding organisations and contacts and configuring contracts."""


CLIENT_ROLES = frozenset({Role.CLIENT_VIEWER, Role.CLIENT_ADMIN, Role.BILLING_CONTACT})
STAFF_ROLES = frozenset({Role.STAFF, Role.ADMIN})


@frozen(kw_only=True)
class Organisation:
    """A client of the firm. Everything a client user sees is scoped to one of these."""

    id: str
    name: str
    external_account_id: str | None = None
    """The Salesforce Account this organisation mirrors, when linked."""
    created_at: datetime
    active: bool = True

    def __attrs_post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("An organisation needs a name.")


def _roles(value: frozenset[Role] | set[Role] | tuple[Role, ...]) -> frozenset[Role]:
    return frozenset(value)


@frozen(kw_only=True)
class User:
    """A person who signs in: a client contact (with an organisation) or a member of staff."""

    id: str
    email: str
    name: str
    organisation_id: str | None
    roles: frozenset[Role] = field(converter=_roles)
    active: bool = True
    created_at: datetime

    def __attrs_post_init__(self) -> None:
        if "@" not in self.email:
            raise InvalidInput(f"{self.email!r} is not an e-mail address.")
        if not self.roles:
            raise InvalidInput("A user needs at least one role.")
        is_client = bool(self.roles & CLIENT_ROLES)
        is_staff = bool(self.roles & STAFF_ROLES)
        if is_client and is_staff:
            raise InvalidInput("A user is either a client contact or staff, not both.")
        if is_client and self.organisation_id is None:
            raise InvalidInput("A client contact belongs to an organisation.")
        if is_staff and self.organisation_id is not None:
            raise InvalidInput("Staff belong to the firm, not to a client organisation.")

    def as_principal(self) -> Principal:
        return Principal(user_id=self.id, organisation_id=self.organisation_id, roles=self.roles)


@frozen(kw_only=True)
class Principal:
    """Whoever is asking: a signed-in user, or a system actor such as the Salesforce sync."""

    user_id: str
    organisation_id: str | None
    roles: frozenset[Role] = field(converter=_roles)

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @classmethod
    def system(cls, name: str) -> Principal:
        """A non-human actor (sync, worker, billing run) with staff rights, named in the audit trail."""
        return cls(user_id=f"system:{name}", organisation_id=None, roles=frozenset({Role.STAFF}))
