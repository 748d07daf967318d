"""Access rules as pure functions. Every use case asks these before it reads or writes.

The rule that matters most: a client user reaches only their own organisation's data, and an
attempt to reach another organisation's looks exactly like asking for something that does not
exist (NotFound), so that not even existence leaks across tenants.
"""

from __future__ import annotations

from portal_core.cases.model import Case, CaseEvent, CommentAdded, Visibility
from portal_core.errors import NotFound, PermissionDenied
from portal_core.organisations.model import Principal, Role


def can_see_organisation(principal: Principal, organisation_id: str) -> bool:
    return principal.is_staff or principal.organisation_id == organisation_id


def require_organisation(principal: Principal, organisation_id: str) -> None:
    if not can_see_organisation(principal, organisation_id):
        raise NotFound("No such organisation.")


def organisation_scope(principal: Principal) -> str | None:
    """The organisation every query of this principal is limited to; None means all (staff)."""
    if principal.is_staff:
        return None
    if principal.organisation_id is None:
        # A client principal without an organisation must see nothing, never everything.
        raise PermissionDenied("This account is not linked to an organisation.")
    return principal.organisation_id


def can_see_case(principal: Principal, case: Case) -> bool:
    return can_see_organisation(principal, case.organisation_id)


def require_case(principal: Principal, case: Case | None) -> Case:
    """The case, if the principal may see it; NotFound otherwise, whether it exists or not."""
    if case is None or not can_see_case(principal, case):
        raise NotFound("No such case.")
    return case


def can_submit_case(principal: Principal, organisation_id: str) -> bool:
    if principal.is_staff:
        return True
    return principal.organisation_id == organisation_id and Role.CLIENT_ADMIN in principal.roles


def can_comment(principal: Principal, case: Case, visibility: Visibility) -> bool:
    if not can_see_case(principal, case):
        return False
    if principal.is_staff:
        return True
    return visibility is Visibility.PUBLIC and Role.CLIENT_ADMIN in principal.roles


def can_upload(principal: Principal, case: Case) -> bool:
    return principal.is_staff or (
        can_see_case(principal, case) and Role.CLIENT_ADMIN in principal.roles
    )


def can_change_status(principal: Principal, case: Case) -> bool:
    """Whether the principal may ask for a status change at all; the state machine decides which."""
    return principal.is_staff or (
        can_see_case(principal, case) and Role.CLIENT_ADMIN in principal.roles
    )


def can_assign(principal: Principal) -> bool:
    return principal.is_staff


def can_see_internal_notes(principal: Principal) -> bool:
    return principal.is_staff


def can_see_invoices(principal: Principal, organisation_id: str) -> bool:
    if principal.is_staff:
        return True
    return principal.organisation_id == organisation_id and bool(
        principal.roles & {Role.BILLING_CONTACT, Role.CLIENT_ADMIN}
    )


def can_manage_contacts(principal: Principal, organisation_id: str) -> bool:
    if principal.is_admin:
        return True
    return principal.organisation_id == organisation_id and Role.CLIENT_ADMIN in principal.roles


def can_onboard(principal: Principal) -> bool:
    return principal.is_admin


def visible_history(principal: Principal, history: list[CaseEvent]) -> list[CaseEvent]:
    """A case's events as this principal may see them: clients never get internal notes."""
    if can_see_internal_notes(principal):
        return list(history)
    return [
        event
        for event in history
        if not (isinstance(event, CommentAdded) and event.visibility is Visibility.INTERNAL)
    ]


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)
