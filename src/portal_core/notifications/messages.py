"""The e-mails' words: a subject and a plain-text body each, with a link into the portal.

Nothing here ever quotes an internal note: only the texts of public events are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from attrs import frozen

from portal_core.cases.model import Case, CaseStatus

STATUS_LABELS: Mapping[CaseStatus, str] = {
    CaseStatus.NEW: "New",
    CaseStatus.IN_PROGRESS: "In progress",
    CaseStatus.WAITING_ON_CLIENT: "Waiting on client",
    CaseStatus.RESOLVED: "Resolved",
    CaseStatus.CLOSED: "Closed",
}

QUOTE_LIMIT = 2_000
"""Characters of a reply quoted in its e-mail; the rest is read in the portal."""


@frozen(kw_only=True)
class Message:
    subject: str
    body: str


@frozen(kw_only=True)
class Site:
    """Where the portal is and whose it is, for links and signatures."""

    base_url: str
    firm_name: str

    def case_link(self, case_id: str) -> str:
        return f"{self.base_url}/cases/{case_id}"

    def invoice_link(self, invoice_id: str) -> str:
        return f"{self.base_url}/invoices/{invoice_id}"

    def sign(self, text: str) -> str:
        return f"{text}\n\n-- \n{self.firm_name} client portal\n{self.base_url}\n"


def _quoted(text: str) -> str:
    shortened = text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT].rstrip() + " [...]"
    return "\n".join(f"> {line}" for line in shortened.splitlines() or [""])


def case_created_for_staff(site: Site, case: Case, organisation_name: str) -> Message:
    return Message(
        subject=f"New request {case.number} from {organisation_name}: {case.subject}",
        body=site.sign(
            f"{organisation_name} submitted request {case.number} "
            f"(priority {case.priority.value}).\n\n{case.subject}\n\n"
            f"{_quoted(case.description)}\n\nOpen it: {site.case_link(case.id)}"
        ),
    )


def case_created_for_client(site: Site, case: Case) -> Message:
    return Message(
        subject=f"We received your request {case.number}: {case.subject}",
        body=site.sign(
            f"Thank you. Your request {case.number} is with {site.firm_name}.\n\n"
            f"{case.subject}\n\nFollow it here: {site.case_link(case.id)}"
        ),
    )


def status_changed(site: Site, case: Case, status: CaseStatus) -> Message:
    label = STATUS_LABELS[status]
    return Message(
        subject=f"Request {case.number} is now {label.lower()}: {case.subject}",
        body=site.sign(
            f"Your request {case.number} ({case.subject}) is now: {label}.\n\n"
            f"See it here: {site.case_link(case.id)}"
        ),
    )


def public_reply(site: Site, case: Case, body: str, *, from_client: bool) -> Message:
    who = "The client" if from_client else site.firm_name
    return Message(
        subject=f"New reply on request {case.number}: {case.subject}",
        body=site.sign(
            f"{who} replied on request {case.number}:\n\n{_quoted(body)}\n\n"
            f"Answer in the portal: {site.case_link(case.id)}"
        ),
    )


def invoice_issued(
    site: Site, *, invoice_id: str, number: str, gross: str, currency: str, due: str
) -> Message:
    return Message(
        subject=f"Invoice {number} from {site.firm_name}",
        body=site.sign(
            f"Invoice {number} for {gross} {currency} is ready, due on {due}.\n\n"
            f"See it, download the PDF and pay: {site.invoice_link(invoice_id)}"
        ),
    )


def invitation(site: Site, *, name: str, link: str, expires_at: datetime) -> Message:
    return Message(
        subject=f"Your invitation to the {site.firm_name} client portal",
        body=site.sign(
            f"Hello {name},\n\n{site.firm_name} invites you to its client portal. Choose your "
            f"password here:\n\n{link}\n\nThe link works once, until "
            f"{expires_at:%Y-%m-%d %H:%M} UTC."
        ),
    )


def password_reset(site: Site, *, name: str, link: str, expires_at: datetime) -> Message:
    return Message(
        subject=f"Reset your password for the {site.firm_name} client portal",
        body=site.sign(
            f"Hello {name},\n\nSomeone (we hope you) asked to reset your password. Choose a new "
            f"one here:\n\n{link}\n\nThe link works once, until {expires_at:%Y-%m-%d %H:%M} UTC. "
            "If you did not ask, ignore this e-mail: your password stays as it is."
        ),
    )


def password_changed(site: Site) -> Message:
    return Message(
        subject=f"Your {site.firm_name} portal password was changed",
        body=site.sign(
            "Your password was just changed. If this was not you, reset it at once from the "
            f"sign-in page ({site.base_url}) and tell {site.firm_name}."
        ),
    )


def second_factor_changed(site: Site, *, enabled: bool) -> Message:
    state = "turned on" if enabled else "turned off"
    return Message(
        subject=f"Two-step sign-in was {state} for your {site.firm_name} portal account",
        body=site.sign(
            f"Two-step sign-in (an authenticator code) was just {state} for your account. "
            f"If this was not you, reset your password at once and tell {site.firm_name}."
        ),
    )
