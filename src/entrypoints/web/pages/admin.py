"""Onboarding for the firm's administrators: client organisations, their Salesforce Account
and their contacts (invite with roles, remove)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Response, Template

from entrypoints.web.auth import requires_admin
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from entrypoints.web.pages.rendering import (
    PAGE_OPT,
    in_thread,
    page,
    read_form,
    see_other,
    text_field,
)
from portal_core.errors import Conflict, InvalidInput, NotFound
from portal_core.organisations.model import CLIENT_ROLES, Principal, Role
from portal_core.organisations.service import InviteContact

ROLE_LABELS = {
    Role.CLIENT_ADMIN: "Client administrator: submits requests, comments, manages contacts",
    Role.CLIENT_VIEWER: "Viewer: reads cases and files",
    Role.BILLING_CONTACT: "Billing contact: sees and pays invoices",
}


def organisations_page(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    return page(
        request,
        container,
        "organisations.html",
        status_code=HTTPStatus.UNPROCESSABLE_ENTITY if errors else HTTPStatus.OK,
        organisations=container.onboarding.list_organisations(principal),
        errors=errors or {},
        values=values or {},
    )


def organisation_page(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    principal: Principal,
    organisation_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    organisation = next(
        (
            found
            for found in container.onboarding.list_organisations(principal)
            if found.id == organisation_id
        ),
        None,
    )
    if organisation is None:
        raise NotFound("No such organisation.")
    return page(
        request,
        container,
        "organisation.html",
        status_code=HTTPStatus.UNPROCESSABLE_ENTITY if errors else HTTPStatus.OK,
        organisation=organisation,
        contacts=container.onboarding.list_contacts(principal, organisation_id),
        role_labels=ROLE_LABELS,
        errors=errors or {},
        values=values or {},
    )


class AdminPages(Controller):
    include_in_schema = False
    guards = [requires_admin]  # noqa: RUF012 (Litestar reads these class attributes)
    opt = PAGE_OPT

    @get("/admin/organisations", sync_to_thread=True)
    def organisations(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Template:
        return organisations_page(request, container, principal)

    @post("/admin/organisations")
    async def add_organisation(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Response[Any]:
        form = await read_form(request)
        values = {"name": text_field(form, "name"), "account": text_field(form, "account")}
        if not values["name"]:
            return await in_thread(
                lambda: organisations_page(
                    request,
                    container,
                    principal,
                    errors={"name": "Enter the organisation's name."},
                    values=values,
                )
            )
        try:
            added = await in_thread(
                lambda: container.onboarding.add_organisation(
                    principal, values["name"], external_account_id=values["account"] or None
                )
            )
        except (InvalidInput, Conflict) as refused:
            message = refused.message
            return await in_thread(
                lambda: organisations_page(
                    request,
                    container,
                    principal,
                    errors={"account": message},
                    values=values,
                )
            )
        return see_other(f"/admin/organisations/{added.id}", done="organisation")

    @get("/admin/organisations/{organisation_id:str}", sync_to_thread=True)
    def organisation(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        organisation_id: FromPath[str],
    ) -> Template:
        return organisation_page(request, container, principal, organisation_id)

    @post("/admin/organisations/{organisation_id:str}/account")
    async def link_account(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        organisation_id: FromPath[str],
    ) -> Response[Any]:
        account = text_field(await read_form(request), "account")
        try:
            await in_thread(
                lambda: container.onboarding.link_account(
                    principal, organisation_id, account or None
                )
            )
        except (InvalidInput, Conflict) as refused:
            message = refused.message
            return await in_thread(
                lambda: organisation_page(
                    request,
                    container,
                    principal,
                    organisation_id,
                    errors={"account": message},
                )
            )
        return see_other(f"/admin/organisations/{organisation_id}", done="linked")

    @post("/admin/organisations/{organisation_id:str}/contacts")
    async def invite(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
        organisation_id: FromPath[str],
    ) -> Response[Any]:
        form = await read_form(request)
        values = {"name": text_field(form, "name"), "email": text_field(form, "email")}
        chosen = {value for value in form.getall("roles", []) if isinstance(value, str)}
        roles = frozenset(role for role in CLIENT_ROLES if role.value in chosen)
        errors: dict[str, str] = {}
        if not values["name"]:
            errors["name"] = "Enter the person's name."
        if "@" not in values["email"]:
            errors["email"] = "Enter an e-mail address, such as name@example.com."
        if not roles:
            errors["roles"] = "Choose at least one role."
        if not errors:
            command = InviteContact(
                organisation_id=organisation_id,
                email=values["email"],
                name=values["name"],
                roles=roles,
            )
            try:
                await in_thread(lambda: container.onboarding.invite_contact(principal, command))
            except (InvalidInput, Conflict) as refused:
                message = refused.message
                errors["invite"] = message
        if errors:
            return await in_thread(
                lambda: organisation_page(
                    request, container, principal, organisation_id, errors=errors, values=values
                )
            )
        return see_other(f"/admin/organisations/{organisation_id}", done="invited")

    @post("/admin/organisations/{organisation_id:str}/contacts/{user_id:str}/remove")
    async def remove(
        self,
        container: PortalContainer,
        principal: SignedInPrincipal,
        organisation_id: FromPath[str],
        user_id: FromPath[str],
    ) -> Response[Any]:
        contacts = await in_thread(
            lambda: container.onboarding.list_contacts(principal, organisation_id)
        )
        if not any(contact.id == user_id for contact in contacts):
            raise NotFound("No such contact.")
        await in_thread(lambda: container.onboarding.remove_contact(principal, user_id))
        return see_other(f"/admin/organisations/{organisation_id}", done="removed")
