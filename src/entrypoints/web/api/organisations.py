"""Organisations and their contacts: administrators onboard; client admins manage their own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from entrypoints.web.api.common import Idempotent, provide_idempotent_call
from entrypoints.web.auth import requires_admin
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from portal_core.organisations.model import Organisation, Role, User
from portal_core.organisations.service import InviteContact

NAME = msgspec.Meta(min_length=1, max_length=500)


class OrganisationOut(msgspec.Struct, frozen=True):
    id: str
    name: str
    external_account_id: str | None
    active: bool
    created_at: datetime


class OrganisationListOut(msgspec.Struct, frozen=True):
    items: list[OrganisationOut]


class OrganisationIn(msgspec.Struct, frozen=True):
    name: Annotated[str, NAME]
    external_account_id: Annotated[str, msgspec.Meta(max_length=18)] | None = None
    """The Salesforce Account this client mirrors (15 or 18 characters from 001)."""


class ContactOut(msgspec.Struct, frozen=True):
    id: str
    organisation_id: str | None
    email: str
    name: str
    roles: list[Role]
    active: bool


class ContactListOut(msgspec.Struct, frozen=True):
    items: list[ContactOut]


class InviteIn(msgspec.Struct, frozen=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
    name: Annotated[str, NAME]
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=3)]


class RolesIn(msgspec.Struct, frozen=True):
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=3)]


def organisation_out(organisation: Organisation) -> OrganisationOut:
    return OrganisationOut(
        id=organisation.id,
        name=organisation.name,
        external_account_id=organisation.external_account_id,
        active=organisation.active,
        created_at=organisation.created_at,
    )


def contact_out(user: User) -> ContactOut:
    return ContactOut(
        id=user.id,
        organisation_id=user.organisation_id,
        email=user.email,
        name=user.name,
        roles=sorted(user.roles),
        active=user.active,
    )


class OrganisationsController(Controller):
    tags = ["organisations"]  # noqa: RUF012
    dependencies = {"idempotent": Provide(provide_idempotent_call)}  # noqa: RUF012

    @get("/organisations", summary="List organisations (clients: their own)", sync_to_thread=True)
    def list_organisations(
        self, principal: SignedInPrincipal, container: PortalContainer
    ) -> OrganisationListOut:
        found = container.onboarding.list_organisations(principal)
        return OrganisationListOut(items=[organisation_out(o) for o in found])

    @post(
        "/organisations",
        summary="Add a client organisation (admin)",
        guards=[requires_admin],
        sync_to_thread=True,
    )
    def add_organisation(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        idempotent: Idempotent,
        data: JSONBody[OrganisationIn],
    ) -> Response[OrganisationOut]:
        return idempotent.respond(
            lambda: organisation_out(
                container.onboarding.add_organisation(
                    principal, data.name, external_account_id=data.external_account_id
                )
            )
        )

    @get(
        "/organisations/{organisation_id:str}/contacts",
        summary="An organisation's contacts (admin, or its client admins)",
        sync_to_thread=True,
    )
    def contacts(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        organisation_id: FromPath[str],
    ) -> ContactListOut:
        found = container.onboarding.list_contacts(principal, organisation_id)
        return ContactListOut(items=[contact_out(u) for u in found])

    @post(
        "/organisations/{organisation_id:str}/contacts",
        summary="Invite a contact (admin, or the organisation's client admins)",
        sync_to_thread=True,
    )
    def invite(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        idempotent: Idempotent,
        organisation_id: FromPath[str],
        data: JSONBody[InviteIn],
    ) -> Response[ContactOut]:
        command = InviteContact(
            organisation_id=organisation_id,
            email=data.email,
            name=data.name,
            roles=frozenset(data.roles),
        )
        # The invitation link goes to the contact by e-mail only, never into this response.
        return idempotent.respond(
            lambda: contact_out(container.onboarding.invite_contact(principal, command).user)
        )

    @delete(
        "/contacts/{user_id:str}",
        summary="Remove a contact: sign-in stops, sessions end, history stays",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
    )
    def remove(
        self, principal: SignedInPrincipal, container: PortalContainer, user_id: FromPath[str]
    ) -> ContactOut:
        return contact_out(container.onboarding.remove_contact(principal, user_id))

    @patch("/contacts/{user_id:str}/roles", summary="Change a contact's roles", sync_to_thread=True)
    def change_roles(
        self,
        principal: SignedInPrincipal,
        container: PortalContainer,
        user_id: FromPath[str],
        data: JSONBody[RolesIn],
    ) -> ContactOut:
        return contact_out(container.onboarding.change_roles(principal, user_id, data.roles))
