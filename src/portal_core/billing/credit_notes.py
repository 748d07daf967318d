"""Credit notes: corrections of an issued invoice, which is itself never edited.

A credit note credits all of an invoice or some of its lines, each line in full or in part, and
what is credited never exceeds what was invoiced less what earlier credit notes credited: per
line, and in total. Only lines that charged something (a positive amount) are credited one by
one. Crediting "everything" (voiding) credits whatever is left of every line, the negative
ones (cap, discount) included, and exactly the tax not yet credited, so that an invoice and
all its credit notes always net to zero once it has been fully credited.

The tax of a partial credit note is computed like the invoice's: the invoice's own rate, and
the scope of the contract it was issued under.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from portal_core.billing.compute import tax_line
from portal_core.billing.contract import TaxRule, TaxScope
from portal_core.billing.invoice import CreditNote, CreditNoteLine, Invoice
from portal_core.billing.money import Money, MoneyRounding, total
from portal_core.errors import InvalidInput, InvalidTransition


@frozen(kw_only=True)
class CreditLine:
    """Credit invoice line `line_number`: `amount` of it, or all that is left when None."""

    line_number: int
    amount: Money | None = None


@frozen(kw_only=True)
class CreditCalculation:
    lines: tuple[CreditNoteLine, ...]
    tax: Money

    @property
    def net(self) -> Money:
        return total([line.amount for line in self.lines], self.tax.currency)

    @property
    def gross(self) -> Money:
        return self.net + self.tax


def credited_per_line(invoice: Invoice, earlier: Sequence[CreditNote]) -> dict[int, Money]:
    """How much of each invoice line earlier credit notes took back."""
    credited = {line.number: Money.zero(invoice.currency) for line in invoice.lines}
    for note in earlier:
        for line in note.lines:
            credited[line.invoice_line] = credited[line.invoice_line] + line.amount
    return credited


def compute_credit(
    invoice: Invoice,
    earlier: Sequence[CreditNote],
    requested: Sequence[CreditLine] | None,
    *,
    tax_scope: TaxScope,
    mode: MoneyRounding,
) -> CreditCalculation:
    """The lines and tax of a new credit note on `invoice`; `requested` None credits the rest.

    Raises InvalidTransition for a draft, InvalidInput when nothing would be credited or when
    more than is left would be, and CurrencyMismatch for an amount in another currency.
    """
    if invoice.is_draft:
        raise InvalidTransition("A draft is recomputed, never credited.")
    credited = credited_per_line(invoice, earlier)
    already_taxed = total([note.tax for note in earlier], invoice.currency)
    remaining_gross = invoice.gross - invoice.amount_credited
    if requested is None:
        lines = tuple(
            CreditNoteLine(
                invoice_line=line.number,
                description=line.description,
                amount=line.amount - credited[line.number],
            )
            for line in invoice.lines
            if line.amount != credited[line.number]
        )
        calculation = CreditCalculation(lines=lines, tax=invoice.tax - already_taxed)
        if calculation.gross.amount <= 0:
            raise InvalidInput(f"Invoice {invoice.number} has nothing left to credit.")
        return calculation

    if not requested:
        raise InvalidInput("Choose at least one line to credit.")
    if len({r.line_number for r in requested}) != len(requested):
        raise InvalidInput("Name each line to credit once.")
    lines_out = []
    for request in requested:
        line = invoice.calculation.line(request.line_number)
        if not line.amount.amount > 0:
            raise InvalidInput(
                f"Line {line.number} charged nothing; only charged lines are credited one by one."
            )
        left = line.amount - credited[line.number]
        amount = left if request.amount is None else request.amount
        if amount.amount <= 0 or not amount.is_rounded:
            raise InvalidInput("A credited amount is positive, in whole minor units.")
        if amount > left:
            raise InvalidInput(
                f"Line {line.number} charged {line.amount}; at most {left} of it can still be "
                "credited."
            )
        lines_out.append(
            CreditNoteLine(invoice_line=line.number, description=line.description, amount=amount)
        )
    rates = invoice.calculation.tax_lines
    rule = TaxRule(
        rate_percent=rates[0].rate_percent if rates else 0,
        scope=tax_scope,
        note=rates[0].note if rates else "",
    )
    tax = tax_line(
        [line.amount for line in lines_out], rule, currency=invoice.currency, mode=mode
    ).amount
    # Never more tax back than the invoice charged and earlier notes left.
    tax = min(tax, invoice.tax - already_taxed)
    calculation = CreditCalculation(lines=tuple(lines_out), tax=tax)
    if calculation.gross > remaining_gross:
        raise InvalidInput(
            f"Invoice {invoice.number} was for {invoice.gross}; at most {remaining_gross} can "
            "still be credited."
        )
    return calculation
