"""Onboarding events: what the audit trail keeps of organisations and their contacts."""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from portal_core.events import DomainEvent


@frozen(kw_only=True)
class OrganisationAdded(DomainEvent):
    kind: ClassVar[str] = "organisation_added"

    name: str
    external_account_id: str | None


@frozen(kw_only=True)
class AccountLinked(DomainEvent):
    """The organisation now mirrors this Salesforce Account (None: linked to none)."""

    kind: ClassVar[str] = "account_linked"

    external_account_id: str | None
    previous_account_id: str | None


@frozen(kw_only=True)
class UserInvited(DomainEvent):
    kind: ClassVar[str] = "user_invited"

    user_id: str
    email: str
    roles: tuple[str, ...]


@frozen(kw_only=True)
class UserRolesChanged(DomainEvent):
    kind: ClassVar[str] = "user_roles_changed"

    user_id: str
    roles: tuple[str, ...]
    previous_roles: tuple[str, ...]


@frozen(kw_only=True)
class UserRemoved(DomainEvent):
    """The user may no longer sign in; their sessions end at once. Their history stays."""

    kind: ClassVar[str] = "user_removed"

    user_id: str
