"""BILLING.md's worked examples A-H, each to the cent (EUR unless said, ROUND_HALF_UP)."""

from __future__ import annotations

from decimal import Decimal

from portal_core.billing.compute import CaseBilling, compute_invoice
from portal_core.billing.contract import (
    FixedFeeTerms,
    Grouping,
    HourlyTerms,
    RetainerTerms,
    TaxRule,
    TaxScope,
)
from portal_core.billing.invoice import LineKind
from portal_core.billing.money import Money
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.rounding import RoundingRule, TimeRoundingMode
from tests.unit.billing.builders import contract, entry


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def test_a_hourly_rounds_each_entry_up_to_fifteen_minutes_and_adds_vat() -> None:
    terms = contract(
        rates={"Senior": Decimal("180.00")},
        rounding=RoundingRule(increment=15, mode=TimeRoundingMode.UP),
    )
    invoice = compute_invoice(terms, [entry(50), entry(7), entry(61)])

    (line,) = invoice.lines
    assert [e.billed_minutes for e in line.entries] == [60, 15, 75]
    assert [e.raw_minutes for e in line.entries] == [50, 7, 61]
    assert line.minutes == 150
    assert line.amount == eur("450.00")
    assert invoice.tax == eur("90.00")
    assert invoice.gross == eur("540.00")


def test_b_one_line_per_case_and_role_rounds_once_not_per_entry() -> None:
    terms = contract(rates={"Senior": Decimal("100.00")}, rounding=RoundingRule(increment=1))

    single = compute_invoice(terms, [entry(7)])
    assert single.lines[0].amount == eur("11.67")

    double = compute_invoice(terms, [entry(7), entry(7)])
    (line,) = double.lines
    assert line.minutes == 14
    assert line.amount == eur("23.33")


def test_c_retainer_charges_fee_plus_overage_beyond_included_hours_with_reverse_charge() -> None:
    terms = contract(
        terms=RetainerTerms(
            monthly_fee=Decimal("2000.00"),
            included_minutes=10 * 60,
            overage_rate=Decimal("150.00"),
        ),
        rounding=RoundingRule(increment=6, mode=TimeRoundingMode.NEAREST),
        tax=TaxRule(rate_percent=Decimal(0), note="Reverse charge"),
        grouping=Grouping.MONTHLY,
    )
    invoice = compute_invoice(
        terms, [entry(125), entry(233), entry(384)], period=BillingPeriod(2026, 10)
    )

    included = [line for line in invoice.lines if line.kind is LineKind.INCLUDED]
    assert [e.billed_minutes for line in included for e in line.entries] == [126, 234, 384]
    assert sum(line.minutes or 0 for line in included) == 744
    assert all(line.amount.is_zero for line in included)
    (fee,) = [line for line in invoice.lines if line.kind is LineKind.RETAINER_FEE]
    (overage,) = [line for line in invoice.lines if line.kind is LineKind.OVERAGE]
    assert fee.amount == eur("2000.00")
    assert overage.minutes == 144
    assert overage.amount == eur("360.00")
    assert invoice.tax == eur("0.00")
    assert invoice.tax_lines[0].note == "Reverse charge"
    assert invoice.gross == eur("2360.00")


def test_d_fixed_fee_charges_the_price_and_shows_the_time_at_zero() -> None:
    terms = contract(terms=FixedFeeTerms(), grouping=Grouping.PER_CASE)
    logged = [entry(600), entry(600), entry(690, role="Engineer")]  # 31.5 h
    invoice = compute_invoice(
        terms,
        logged,
        cases={
            "case-1": CaseBilling(case_id="case-1", label="Onboarding", fixed_fee=eur("2500.00"))
        },
    )

    charged = [line for line in invoice.lines if not line.amount.is_zero]
    assert [(line.kind, line.amount) for line in charged] == [(LineKind.FIXED_FEE, eur("2500.00"))]
    shown = [line for line in invoice.lines if line.kind is LineKind.INFORMATION]
    assert sum(line.minutes or 0 for line in shown) == 31 * 60 + 30
    assert invoice.tax == eur("500.00")
    assert invoice.gross == eur("3000.00")


def test_e_cap_per_case_shows_every_line_and_one_negative_cap_line() -> None:
    terms = contract(
        terms=HourlyTerms(cap_per_case=Decimal("1000.00")),
        rates={"Engineer": Decimal("140.00")},
    )
    invoice = compute_invoice(terms, [entry(300, role="Engineer"), entry(240, role="Engineer")])

    time_line, cap_line = invoice.lines
    assert time_line.minutes == 9 * 60
    assert time_line.amount == eur("1260.00")
    assert cap_line.kind is LineKind.CAP
    assert cap_line.description.startswith("Cap applied")
    assert cap_line.amount == eur("-260.00")
    assert invoice.net == eur("1000.00")


def test_f_tax_scope_invoice_rounds_once_and_scope_line_rounds_each_line() -> None:
    def three_lines(scope: TaxScope) -> tuple[Money, Money]:
        terms = contract(
            rates={"Senior": Decimal("10.01")}, tax=TaxRule(rate_percent=Decimal(19), scope=scope)
        )
        invoice = compute_invoice(
            terms,
            [entry(60, case_id="case-1"), entry(60, case_id="case-2"), entry(60, case_id="case-3")],
        )
        assert [line.amount for line in invoice.lines] == [eur("10.01")] * 3
        return invoice.tax, invoice.gross

    assert three_lines(TaxScope.INVOICE) == (eur("5.71"), eur("35.74"))
    assert three_lines(TaxScope.LINE) == (eur("5.70"), eur("35.73"))


def test_g_yen_has_no_minor_unit() -> None:
    terms = contract(currency="JPY", rates={"Senior": Decimal("10000")})
    invoice = compute_invoice(terms, [entry(7)])

    assert invoice.lines[0].amount == Money("1167", "JPY")
    assert str(invoice.lines[0].amount) == "1167"


def test_h_discount_is_one_negative_line_on_the_net_before_tax() -> None:
    terms = contract(
        rates={"Senior": Decimal("180.00")},
        discount_percent=Decimal(10),
        rounding=RoundingRule(increment=15, mode=TimeRoundingMode.UP),
    )
    invoice = compute_invoice(terms, [entry(50), entry(7), entry(61)])

    time_line, discount = invoice.lines
    assert time_line.amount == eur("450.00")
    assert discount.kind is LineKind.DISCOUNT
    assert discount.amount == eur("-45.00")
    assert invoice.net == eur("405.00")
    assert invoice.tax == eur("81.00")
    assert invoice.gross == eur("486.00")
