"""Onboarding use cases: organisations, their Salesforce Account, and the people who sign in.

An administrator adds an organisation, links it to its Salesforce Account and invites its
contacts with their roles; a client admin may then manage their own organisation's contacts.
Removing someone ends their sessions at once. The contract is set through
`portal_core.billing.service.BillingService.set_contract`.

Each change is stored with its audit entry in one unit of work; the identity provider is told
afterwards (`invite`, `disable`), because a provider such as Cognito cannot join our
transaction. Should that call fail, the person is stored but has no invitation yet:
`resend_invitation` gives them one. Sign-in checks that the user is active on every request,
so a removed person is locked out by the commit itself, before the provider hears of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from attrs import evolve, frozen

from portal_core import access
from portal_core.dispatch import EventDispatcher, event_header, record_change
from portal_core.errors import Conflict, InvalidInput, NotFound
from portal_core.events import DomainEvent, EventHeader
from portal_core.organisations.events import (
    AccountLinked,
    OrganisationAdded,
    UserInvited,
    UserRemoved,
    UserRolesChanged,
)
from portal_core.organisations.model import (
    CLIENT_ROLES,
    STAFF_ROLES,
    Organisation,
    Principal,
    Role,
    User,
)
from portal_core.ports import Clock, IdentityProvider, IdGenerator, UnitOfWork, UnitOfWorkFactory

SALESFORCE_ACCOUNT_ID = re.compile(r"001[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")
"""A Salesforce Account id: key prefix 001, 15 characters, or 18 with the checksum suffix."""


def check_account_id(account_id: str) -> str:
    cleaned = account_id.strip()
    if not SALESFORCE_ACCOUNT_ID.fullmatch(cleaned):
        raise InvalidInput(
            f"{account_id!r} is not a Salesforce Account id (15 or 18 characters from 001)."
        )
    return cleaned


# --- commands and results ------------------------------------------------------------------------


def _role_set(value: Iterable[Role]) -> frozenset[Role]:
    return frozenset(value)


@frozen(kw_only=True)
class InviteContact:
    organisation_id: str
    email: str
    name: str
    roles: frozenset[Role]


@frozen(kw_only=True)
class InviteStaff:
    email: str
    name: str
    roles: frozenset[Role]


@frozen(kw_only=True)
class Invited:
    user: User
    link: str | None
    """The invitation link when the identity provider makes one (local sign-in), to show in
    the CLI; it is e-mailed either way."""


# --- the service ---------------------------------------------------------------------------------


class OnboardingService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        identity: IdentityProvider,
        dispatcher: EventDispatcher,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._identity = identity
        self._dispatcher = dispatcher

    # organisations

    def add_organisation(
        self, principal: Principal, name: str, *, external_account_id: str | None = None
    ) -> Organisation:
        access.require(access.can_onboard(principal), "Only an administrator adds clients.")
        account_id = check_account_id(external_account_id) if external_account_id else None
        now = self._clock.now()
        organisation = Organisation(
            id=self._ids.new_id(),
            name=" ".join(name.split()),
            external_account_id=account_id,
            created_at=now,
        )
        with self._uow() as uow:
            if account_id is not None:
                self._require_account_free(uow, account_id, organisation.id)
            uow.organisations.add(organisation)
            added = OrganisationAdded(
                **self._base(principal, organisation.id),
                name=organisation.name,
                external_account_id=account_id,
            )
            self._record(uow, added, "organisation", organisation.id, {"name": organisation.name})
            uow.commit()
        self._dispatcher.dispatch([added])
        return organisation

    def link_account(
        self, principal: Principal, organisation_id: str, external_account_id: str | None
    ) -> Organisation:
        """Link the organisation to its Salesforce Account; None unlinks it. An Account links
        to one organisation at most."""
        access.require(access.can_onboard(principal), "Only an administrator links accounts.")
        account_id = check_account_id(external_account_id) if external_account_id else None
        with self._uow() as uow:
            organisation = uow.organisations.get(organisation_id)
            if organisation is None:
                raise NotFound("No such organisation.")
            if organisation.external_account_id == account_id:
                return organisation
            if account_id is not None:
                self._require_account_free(uow, account_id, organisation.id)
            previous = organisation.external_account_id
            organisation = evolve(organisation, external_account_id=account_id)
            uow.organisations.update(organisation)
            linked = AccountLinked(
                **self._base(principal, organisation.id),
                external_account_id=account_id,
                previous_account_id=previous,
            )
            self._record(
                uow,
                linked,
                "organisation",
                organisation.id,
                {"account_id": account_id or "", "previous_account_id": previous or ""},
            )
            uow.commit()
        self._dispatcher.dispatch([linked])
        return organisation

    def list_organisations(self, principal: Principal) -> Sequence[Organisation]:
        """Every organisation for staff; a client sees only their own."""
        with self._uow(read_only=True) as uow:
            if principal.is_staff:
                return uow.organisations.list()
            own = uow.organisations.get(principal.organisation_id or "")
        return [own] if own is not None else []

    # people

    def invite_contact(self, principal: Principal, command: InviteContact) -> Invited:
        """A new contact of a client organisation, with client roles, and their invitation.
        Administrators may invite into any organisation; a client admin into their own."""
        roles = _role_set(command.roles)
        if not roles or not roles <= CLIENT_ROLES:
            raise InvalidInput("Contacts of a client have client roles only.")
        access.require_organisation(principal, command.organisation_id)
        access.require(
            access.can_manage_contacts(principal, command.organisation_id),
            "Your role cannot invite people to this organisation.",
        )
        return self._invite(principal, command.email, command.name, roles, command.organisation_id)

    def invite_staff(self, principal: Principal, command: InviteStaff) -> Invited:
        """A new member of the firm's staff (or another administrator)."""
        access.require(access.can_onboard(principal), "Only an administrator invites staff.")
        roles = _role_set(command.roles)
        if not roles or not roles <= STAFF_ROLES:
            raise InvalidInput("Members of staff have staff roles only.")
        return self._invite(principal, command.email, command.name, roles, None)

    def resend_invitation(self, principal: Principal, user_id: str) -> Invited:
        """Invite someone again: a new link for someone who has not signed up (the old one
        stops working), and access restored to someone who was removed. Someone who has
        signed up and is active needs nothing (`link` is None with local sign-in)."""
        events: list[DomainEvent] = []
        with self._uow() as uow:
            user = self._manageable_user(uow, principal, user_id)
            if not user.active:
                user = evolve(user, active=True)
                uow.users.update(user)
                invited = UserInvited(
                    **self._base(principal, user.organisation_id),
                    user_id=user.id,
                    email=user.email,
                    roles=_role_names(user.roles),
                )
                self._record(uow, invited, "user", user.id, {"roles": ",".join(invited.roles)})
                events.append(invited)
                uow.commit()
        self._dispatcher.dispatch(events)
        return Invited(user=user, link=self._identity.invite(user))

    def change_roles(self, principal: Principal, user_id: str, roles: Iterable[Role]) -> User:
        new_roles = _role_set(roles)
        if principal.user_id == user_id:
            raise InvalidInput("Ask someone else to change your own roles.")
        with self._uow() as uow:
            user = self._manageable_user(uow, principal, user_id)
            allowed = CLIENT_ROLES if user.organisation_id is not None else STAFF_ROLES
            if not new_roles or not new_roles <= allowed:
                raise InvalidInput(
                    "Contacts of a client have client roles only."
                    if user.organisation_id is not None
                    else "Members of staff have staff roles only."
                )
            if new_roles == user.roles:
                return user
            changed = UserRolesChanged(
                **self._base(principal, user.organisation_id),
                user_id=user.id,
                roles=_role_names(new_roles),
                previous_roles=_role_names(user.roles),
            )
            user = evolve(user, roles=new_roles)
            uow.users.update(user)
            self._record(uow, changed, "user", user.id, {"roles": ",".join(changed.roles)})
            uow.commit()
        self._dispatcher.dispatch([changed])
        return user

    def remove_contact(self, principal: Principal, user_id: str) -> User:
        """Stop the person from signing in and end their sessions; their history stays."""
        if principal.user_id == user_id:
            raise InvalidInput("Ask someone else to remove you.")
        events: list[DomainEvent] = []
        with self._uow() as uow:
            user = self._manageable_user(uow, principal, user_id)
            if user.active:
                user = evolve(user, active=False)
                uow.users.update(user)
                removed = UserRemoved(
                    **self._base(principal, user.organisation_id), user_id=user.id
                )
                self._record(uow, removed, "user", user.id, {})
                events.append(removed)
                uow.commit()
        self._identity.disable(user.id)
        self._dispatcher.dispatch(events)
        return user

    def list_contacts(self, principal: Principal, organisation_id: str) -> Sequence[User]:
        """The organisation's people, removed ones included (see `User.active`), by name."""
        access.require_organisation(principal, organisation_id)
        access.require(
            access.can_manage_contacts(principal, organisation_id),
            "Your role cannot see this organisation's contacts.",
        )
        with self._uow(read_only=True) as uow:
            if uow.organisations.get(organisation_id) is None:
                raise NotFound("No such organisation.")
            return uow.users.for_organisation(organisation_id)

    # helpers

    def _invite(
        self,
        principal: Principal,
        email: str,
        name: str,
        roles: frozenset[Role],
        organisation_id: str | None,
    ) -> Invited:
        now = self._clock.now()
        user = User(
            id=self._ids.new_id(),
            email=email.strip(),
            name=" ".join(name.split()),
            organisation_id=organisation_id,
            roles=roles,
            created_at=now,
        )
        if not user.name:
            raise InvalidInput("Give the person's name.")
        with self._uow() as uow:
            if organisation_id is not None:
                organisation = uow.organisations.get(organisation_id)
                if organisation is None or not organisation.active:
                    raise NotFound("No such organisation.")
            if uow.users.by_email(user.email) is not None:
                raise Conflict("Someone with this e-mail address has an account already.")
            uow.users.add(user)
            invited = UserInvited(
                **self._base(principal, organisation_id),
                user_id=user.id,
                email=user.email,
                roles=_role_names(roles),
            )
            self._record(uow, invited, "user", user.id, {"roles": ",".join(invited.roles)})
            uow.commit()
        self._dispatcher.dispatch([invited])
        return Invited(user=user, link=self._identity.invite(user))

    def _manageable_user(self, uow: UnitOfWork, principal: Principal, user_id: str) -> User:
        """The user, if the principal may manage them; NotFound when they may not even know."""
        user = uow.users.get(user_id)
        if user is None:
            raise NotFound("No such user.")
        if user.organisation_id is None:
            if not principal.is_staff:
                raise NotFound("No such user.")
            access.require(access.can_onboard(principal), "Only an administrator manages staff.")
            return user
        if not access.can_see_organisation(principal, user.organisation_id):
            raise NotFound("No such user.")
        access.require(
            access.can_manage_contacts(principal, user.organisation_id),
            "Your role cannot manage this organisation's contacts.",
        )
        return user

    def _require_account_free(self, uow: UnitOfWork, account_id: str, organisation_id: str) -> None:
        linked = uow.organisations.by_external_account(account_id)
        if linked is not None and linked.id != organisation_id:
            raise Conflict("Another organisation is linked to that Salesforce Account already.")

    def _base(self, principal: Principal, organisation_id: str | None) -> EventHeader:
        return event_header(
            self._ids, self._clock, actor_id=principal.user_id, organisation_id=organisation_id
        )

    def _record(
        self,
        uow: UnitOfWork,
        event: DomainEvent,
        subject_type: str,
        subject_id: str,
        details: dict[str, str],
    ) -> None:
        record_change(
            uow,
            event,
            ids=self._ids,
            subject_type=subject_type,
            subject_id=subject_id,
            details=details,
            outbox=False,
        )


def _role_names(roles: Iterable[Role]) -> tuple[str, ...]:
    return tuple(sorted(role.value for role in roles))
