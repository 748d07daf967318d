"""Who hears of what. Pure: given the people, the rules pick the recipients.

- A case is submitted: the firm's staff (its assignee when it has one, otherwise every active
  member of staff) and the client who submitted it (a confirmation). A case imported from the
  case system (Salesforce) alerts nobody: staff made it there.
- A case changes status, or the firm posts a public reply: every active contact of the client
  organisation (all of them can see its cases), except whoever made the change; when a client
  changed the status (closed or reopened it), the case's assignee or every member of staff too.
- Nobody is e-mailed about what they did themselves.
- A client posts a public reply: the case's assignee, or every active member of staff.
- An internal note: nobody outside the firm, ever; no e-mail at all (staff read notes in the portal).
- An invoice is issued: the organisation's billing contacts and client admins.
- Sign-in mails (invitation, reset link, password or second factor changed): the person concerned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from portal_core.organisations.model import CLIENT_ROLES, STAFF_ROLES, Role, User


def _active(users: Iterable[User]) -> list[User]:
    seen: dict[str, User] = {}
    for user in users:
        if user.active and user.id not in seen:
            seen[user.id] = user
    return sorted(seen.values(), key=lambda user: user.id)


def staff_for_case(staff: Sequence[User], *, assignee_id: str | None) -> list[User]:
    """The assignee when set and still active; otherwise every active member of staff."""
    active_staff = [user for user in _active(staff) if user.roles & STAFF_ROLES]
    assigned = [user for user in active_staff if user.id == assignee_id]
    return assigned or active_staff


def client_contacts(people: Sequence[User], *, organisation_id: str, except_id: str) -> list[User]:
    """The organisation's active client contacts, without the person who made the change."""
    return [
        user
        for user in _active(people)
        if user.organisation_id == organisation_id
        and user.roles & CLIENT_ROLES
        and user.id != except_id
    ]


def submitter(people: Sequence[User], *, organisation_id: str, user_id: str) -> list[User]:
    """The client who submitted a case, when they are still an active contact of its organisation."""
    return [
        user
        for user in _active(people)
        if user.id == user_id and user.organisation_id == organisation_id
    ]


def billing_recipients(people: Sequence[User], *, organisation_id: str) -> list[User]:
    """Billing contacts and client admins: the people who see and pay invoices."""
    return [
        user
        for user in _active(people)
        if user.organisation_id == organisation_id
        and user.roles & {Role.BILLING_CONTACT, Role.CLIENT_ADMIN}
    ]


def is_client(user: User | None) -> bool:
    return user is not None and bool(user.roles & CLIENT_ROLES)
