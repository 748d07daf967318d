"""The printable document: it adds up or it is refused, and it says what the billing rules said."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from portal_core.billing.compute import compute_invoice
from portal_core.billing.contract import (
    Contract,
    Grouping,
    HourlyTerms,
    RetainerTerms,
    TaxRule,
    TaxScope,
)
from portal_core.billing.credit_notes import compute_credit
from portal_core.billing.document import (
    DiscountLine,
    DocumentKind,
    DocumentLine,
    InvoiceDocument,
    Party,
    PrintedTimeEntry,
    TaxLine,
    check_adds_up,
    credit_note_document,
    format_money,
    hours_of,
    invoice_document,
)
from portal_core.billing.invoice import CreditNote, Invoice
from portal_core.billing.money import MoneyRounding
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.rounding import RoundingRule, RoundingScope, TimeRoundingMode
from portal_core.billing.time_entries import TimeEntry
from portal_core.errors import InvalidInput, InvalidTransition

AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
FIRM = Party(name="Λέσχη & Partners LLP", address_lines=("12 Fleet Street", "London"))
CLIENT = Party(name="ООО «Анна Каренина»", tax_id="RU7701234567")
STAFF_NAMES = {"s-1": "Σωκράτης Παπαδόπουλος", "s-2": "Анна Каренина"}


def document(**changes: object) -> InvoiceDocument:
    """Worked example H as printed: 450.00, discount 10% -45.00, net 405.00, VAT 81.00, 486.00."""
    base = InvoiceDocument(
        kind=DocumentKind.INVOICE,
        number="INV-2026-0001",
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        currency="EUR",
        minor_units=2,
        firm=FIRM,
        client=CLIENT,
        lines=(
            DocumentLine(
                description="Contract review",
                amount=Decimal("450.00"),
                billed_minutes=150,
                rate=Decimal("180.00"),
                entries=(
                    PrintedTimeEntry(
                        date=date(2026, 10, 2),
                        staff_name="Σωκράτης Παπαδόπουλος",
                        description="Review",
                        raw_minutes=50,
                        billed_minutes=60,
                    ),
                    PrintedTimeEntry(
                        date=date(2026, 10, 3),
                        staff_name="Анна Каренина",
                        description="Call",
                        raw_minutes=80,
                        billed_minutes=90,
                    ),
                ),
            ),
        ),
        discount=DiscountLine(description="Discount 10%", amount=Decimal("-45.00")),
        net=Decimal("405.00"),
        tax_lines=(
            TaxLine(
                label="VAT", rate=Decimal("0.20"), base=Decimal("405.00"), amount=Decimal("81.00")
            ),
        ),
        gross=Decimal("486.00"),
    )
    return evolve(base, **changes)  # type: ignore[arg-type]


def test_a_document_whose_totals_are_the_sums_of_its_lines_is_accepted() -> None:
    check_adds_up(document())


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"net": Decimal("405.01")}, "net"),
        ({"gross": Decimal("485.99")}, "total"),
        ({"discount": None}, "net"),
        ({"net": Decimal("450.00"), "gross": Decimal("531.00"), "discount": None}, "tax bases"),
        (
            {"amount_paid": Decimal("100.00"), "balance_due": Decimal("376.00")},
            "balance due",
        ),
        ({"lines": ()}, "no lines"),
    ],
)
def test_a_total_that_is_not_the_sum_of_the_lines_above_it_is_refused(
    changes: dict[str, object], complaint: str
) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        check_adds_up(document(**changes))


def test_an_amount_finer_than_the_currency_is_refused() -> None:
    line = evolve(document().lines[0], amount=Decimal("450.004"))
    with pytest.raises(InvalidInput, match="not rounded"):
        check_adds_up(document(lines=(line,)))


def test_a_line_must_bill_the_minutes_of_the_entries_beneath_it() -> None:
    line = evolve(document().lines[0], billed_minutes=165)
    with pytest.raises(InvalidInput, match="165 minutes"):
        check_adds_up(document(lines=(line,)))


def test_entries_rounded_per_case_leave_the_billed_minutes_to_the_line() -> None:
    entries = tuple(evolve(e, billed_minutes=None) for e in document().lines[0].entries)
    line = evolve(document().lines[0], billed_minutes=135, entries=entries)
    check_adds_up(document(lines=(line,)))


def test_a_credit_note_names_the_invoice_it_credits_and_an_invoice_names_none() -> None:
    with pytest.raises(InvalidInput, match="credit note names"):
        document(kind=DocumentKind.CREDIT_NOTE, due_date=None)
    with pytest.raises(InvalidInput, match="Only a credit note"):
        document(credited_invoice_number="INV-2026-0000")


def test_a_balance_due_is_printed_only_with_what_was_paid_or_credited() -> None:
    with pytest.raises(InvalidInput, match="balance due"):
        document(balance_due=Decimal("486.00"))


minor_units = st.sampled_from([("EUR", 2), ("JPY", 0), ("BHD", 3)])


@st.composite
def consistent_documents(draw: st.DrawFn) -> InvoiceDocument:
    currency, places = draw(minor_units)
    quantum = Decimal(1).scaleb(-places)
    amounts = st.integers(min_value=-(10**6), max_value=10**8).map(lambda n: n * quantum)
    lines = tuple(
        DocumentLine(description=f"Line {index}", amount=amount)
        for index, amount in enumerate(draw(st.lists(amounts, min_size=1, max_size=8)))
    )
    discount_amount = draw(st.one_of(st.none(), amounts.map(lambda a: -abs(a))))
    net = sum((line.amount for line in lines), Decimal(0)) + (discount_amount or 0)
    tax = draw(amounts)
    paid = draw(st.one_of(st.none(), amounts))
    return document(
        currency=currency,
        minor_units=places,
        lines=lines,
        discount=None
        if discount_amount is None
        else DiscountLine(description="Discount", amount=discount_amount),
        net=net,
        tax_lines=(TaxLine(label="VAT", rate=Decimal("0.2"), base=net, amount=tax),),
        gross=net + tax,
        amount_paid=paid,
        balance_due=None if paid is None else net + tax - paid,
    )


@given(consistent_documents())
def test_every_document_made_of_its_sums_adds_up(printed: InvoiceDocument) -> None:
    check_adds_up(printed)


@given(consistent_documents(), st.sampled_from(["net", "gross", "balance_due"]))
def test_one_minor_unit_off_on_any_total_is_caught(printed: InvoiceDocument, total: str) -> None:
    value = getattr(printed, total)
    if value is None:
        value, total = printed.gross, "gross"
    wrong = evolve(printed, **{total: value + Decimal(1).scaleb(-printed.minor_units)})
    with pytest.raises(InvalidInput):
        check_adds_up(wrong)


@pytest.mark.parametrize(
    ("amount", "currency", "places", "printed"),
    [
        (Decimal("2360.00"), "EUR", 2, "€2,360.00"),
        (Decimal("-45.00"), "EUR", 2, "-€45.00"),
        (Decimal(1167), "JPY", 0, "¥1,167"),
        (Decimal("12.345"), "KWD", 3, "KWD 12.345"),
        (Decimal("1234567.5"), "GBP", 2, "£1,234,567.50"),
    ],
)
def test_amounts_print_with_thousands_separators_and_the_currencys_minor_units(
    amount: Decimal, currency: str, places: int, printed: str
) -> None:
    assert format_money(amount, currency, places) == printed


def test_seven_minutes_print_as_twelve_hundredths_of_an_hour() -> None:
    assert hours_of(7) == Decimal("0.12")
    assert hours_of(150) == Decimal("2.50")


@pytest.mark.parametrize(
    ("rate", "printed"), [("0.20", "20%"), ("0.077", "7.7%"), ("0", "0%"), ("0.19", "19%")]
)
def test_tax_rates_print_as_percentages(rate: str, printed: str) -> None:
    tax = TaxLine(label="VAT", rate=Decimal(rate), base=Decimal(0), amount=Decimal(0))
    assert tax.percent == printed


# --- from the billing rules -------------------------------------------------------------------


def contract(**changes: object) -> Contract:
    base = Contract(
        id="k-1",
        organisation_id="org-1",
        terms=HourlyTerms(),
        currency="EUR",
        rates={"Senior": Decimal("180.00")},
        tax=TaxRule(rate_percent=Decimal(20)),
        grouping=Grouping.MONTHLY,
        rounding=RoundingRule(increment=15, mode=TimeRoundingMode.UP),
        created_at=AT,
    )
    return evolve(base, **changes)  # type: ignore[arg-type]


def entry(index: int, minutes: int, *, staff: str = "s-1", billable: bool = True) -> TimeEntry:
    return TimeEntry(
        id=f"t-{index}",
        organisation_id="org-1",
        case_id="case-1",
        staff_id=staff,
        role="Senior",
        work_date=date(2026, 10, index),
        minutes=minutes,
        description=f"Work {index}",
        billable=billable,
        logged_at=AT,
    )


def issued(terms: Contract, entries: list[TimeEntry]) -> Invoice:
    period = BillingPeriod(2026, 10)
    calculation = compute_invoice(terms, entries, period=period)
    draft = Invoice.draft(
        invoice_id="inv-1",
        organisation_id="org-1",
        contract_id=terms.id,
        calculation=calculation,
        at=AT,
        period=period,
    )
    return draft.issued(number="INV-2026-0001", at=AT, issue_date=date(2026, 11, 1), terms_days=30)


WORKED_EXAMPLE_A = [entry(1, 50), entry(2, 7, staff="s-2"), entry(3, 61)]


def test_worked_example_a_prints_its_lines_entries_and_totals() -> None:
    printed = invoice_document(
        issued(contract(), WORKED_EXAMPLE_A), firm=FIRM, client=CLIENT, staff_names=STAFF_NAMES
    )
    check_adds_up(printed)
    assert printed.number == "INV-2026-0001"
    assert printed.due_date == date(2026, 12, 1)
    assert [line.amount for line in printed.lines] == [Decimal("450.00")]
    assert printed.lines[0].hours == Decimal("2.50")
    assert [e.billed_minutes for e in printed.lines[0].entries] == [60, 15, 75]
    assert [e.staff_name for e in printed.lines[0].entries] == [
        "Σωκράτης Παπαδόπουλος",
        "Анна Каренина",
        "Σωκράτης Παπαδόπουλος",
    ]
    assert (printed.net, printed.tax_lines[0].amount, printed.gross) == (
        Decimal("450.00"),
        Decimal("90.00"),
        Decimal("540.00"),
    )
    assert printed.tax_lines[0].percent == "20%"
    assert printed.notes == ("Please pay by 2026-12-01, quoting INV-2026-0001.",)


def test_the_discount_line_prints_apart_from_the_charged_lines() -> None:
    printed = invoice_document(
        issued(contract(discount_percent=Decimal(10)), WORKED_EXAMPLE_A),
        firm=FIRM,
        client=CLIENT,
        staff_names=STAFF_NAMES,
    )
    check_adds_up(printed)
    assert printed.discount == DiscountLine(description="Discount 10%", amount=Decimal("-45.00"))
    assert (printed.net, printed.gross) == (Decimal("405.00"), Decimal("486.00"))


def test_a_retainer_with_reverse_charge_adds_up_as_printed() -> None:
    retainer = contract(
        terms=RetainerTerms(
            monthly_fee=Decimal("2000.00"),
            included_minutes=600,
            overage_rate=Decimal("150.00"),
        ),
        rates={},
        tax=TaxRule(
            rate_percent=Decimal(0),
            note="Reverse charge: VAT to be accounted for by the recipient",
        ),
        rounding=RoundingRule(increment=6, mode=TimeRoundingMode.NEAREST),
    )
    printed = invoice_document(
        issued(retainer, [entry(1, 125), entry(2, 233), entry(3, 384)]),
        firm=FIRM,
        client=CLIENT,
        staff_names=STAFF_NAMES,
    )
    check_adds_up(printed)
    assert printed.gross == Decimal("2360.00")
    assert printed.tax_lines[0].note == "Reverse charge: VAT to be accounted for by the recipient"


def test_time_not_charged_prints_as_not_billable_and_per_case_rounding_leaves_entries_unbilled() -> (
    None
):
    per_case = contract(
        rounding=RoundingRule(increment=15, mode=TimeRoundingMode.UP, scope=RoundingScope.CASE)
    )
    printed = invoice_document(
        issued(per_case, [entry(1, 50), entry(2, 7), entry(3, 20, billable=False)]),
        firm=FIRM,
        client=CLIENT,
        staff_names=STAFF_NAMES,
    )
    check_adds_up(printed)
    charged, not_charged = printed.lines
    assert charged.billed_minutes == 60
    assert all(e.billed_minutes is None and e.billable for e in charged.entries)
    assert not_charged.amount == 0
    assert [e.billable for e in not_charged.entries] == [False]


def test_a_draft_is_never_printed() -> None:
    draft = evolve(issued(contract(), WORKED_EXAMPLE_A), number=None, issue_date=None)
    with pytest.raises(InvalidTransition):
        invoice_document(draft, firm=FIRM, client=CLIENT, staff_names=STAFF_NAMES)


def test_an_entry_by_staff_without_a_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match="s-2"):
        invoice_document(
            issued(contract(), WORKED_EXAMPLE_A),
            firm=FIRM,
            client=CLIENT,
            staff_names={"s-1": "Σωκράτης Παπαδόπουλος"},
        )


def test_a_voiding_credit_note_prints_the_credited_lines_discount_and_tax() -> None:
    invoice = issued(contract(discount_percent=Decimal(10)), WORKED_EXAMPLE_A)
    credit = compute_credit(
        invoice, [], None, tax_scope=TaxScope.INVOICE, mode=MoneyRounding.HALF_UP
    )
    note = CreditNote(
        id="cn-1",
        number="CN-2026-0001",
        invoice_id=invoice.id,
        invoice_number="INV-2026-0001",
        organisation_id="org-1",
        lines=credit.lines,
        tax=credit.tax,
        reason="Billed to the wrong entity",
        issued_at=AT,
        issue_date=date(2026, 11, 5),
    )
    printed = credit_note_document(note, invoice, firm=FIRM, client=CLIENT)
    check_adds_up(printed)
    assert printed.kind is DocumentKind.CREDIT_NOTE
    assert printed.credited_invoice_number == "INV-2026-0001"
    assert printed.due_date is None
    assert printed.lines[0].amount == Decimal("450.00")
    assert printed.lines[0].billed_minutes == 150
    assert printed.discount is not None
    assert printed.discount.amount == Decimal("-45.00")
    assert (printed.net, printed.gross) == (Decimal("405.00"), Decimal("486.00"))
    assert printed.notes == ("Reason: Billed to the wrong entity",)


def test_a_rate_may_be_finer_than_the_currency_but_an_amount_may_not() -> None:
    line = evolve(document().lines[0], rate=Decimal("180.125"))
    check_adds_up(document(lines=(line,)))
    with pytest.raises(InvalidInput, match="not a number"):
        check_adds_up(document(lines=(evolve(line, rate=Decimal("NaN")),)))
