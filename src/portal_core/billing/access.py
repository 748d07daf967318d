"""Who may do what with billing: pure functions, asked by every billing use case first.

Clients reach only their own organisation's invoices (billing contacts and client admins, as
`portal_core.access.can_see_invoices` says) and never see drafts; asking for another
organisation's invoice, or for a draft, looks exactly like asking for one that does not exist.
Work in progress carries amounts, so it follows the same rule as invoices. Staff log time and
run billing; only admins set contracts and fixed fees.
"""

from __future__ import annotations

from portal_core import access
from portal_core.billing.invoice import CreditNote, Invoice
from portal_core.errors import NotFound
from portal_core.organisations.model import Principal


def can_configure_billing(principal: Principal) -> bool:
    return principal.is_admin


def can_log_time(principal: Principal) -> bool:
    return principal.is_staff


def can_manage_invoices(principal: Principal) -> bool:
    """Draft, recompute, issue, credit, record payments, see receivables."""
    return principal.is_staff


def can_see_invoice(principal: Principal, invoice: Invoice) -> bool:
    if not access.can_see_invoices(principal, invoice.organisation_id):
        return False
    return principal.is_staff or not invoice.is_draft


def require_invoice(principal: Principal, invoice: Invoice | None) -> Invoice:
    """The invoice, if the principal may see it; NotFound otherwise, whether it exists or not."""
    if invoice is None or not can_see_invoice(principal, invoice):
        raise NotFound("No such invoice.")
    return invoice


def require_credit_note(principal: Principal, credit_note: CreditNote | None) -> CreditNote:
    if credit_note is None or not access.can_see_invoices(principal, credit_note.organisation_id):
        raise NotFound("No such credit note.")
    return credit_note


def can_see_work_in_progress(principal: Principal, organisation_id: str) -> bool:
    return access.can_see_invoices(principal, organisation_id)
