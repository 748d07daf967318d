"""The billing rules as pure functions and value objects: money, rounding, contracts, lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

import portal_core.billing as billing
from portal_core.billing.compute import CaseBilling, compute_invoice
from portal_core.billing.contract import (
    CaseFee,
    FixedFeeTerms,
    Grouping,
    HourlyTerms,
    NumberFormat,
    RetainerTerms,
    TaxRule,
)
from portal_core.billing.invoice import LineKind
from portal_core.billing.money import CurrencyMismatch, Money, MoneyRounding
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.rounding import RoundingRule, RoundingScope, TimeRoundingMode
from portal_core.errors import InvalidInput
from tests.unit.billing.builders import contract, entry


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


# money


def test_money_refuses_floats() -> None:
    with pytest.raises(InvalidInput, match="never floats"):
        Money(0.1, "EUR")  # type: ignore[arg-type]


def test_an_absurd_amount_is_refused_as_input_not_left_to_fail_when_rounded() -> None:
    # 30 digits cannot be rounded within Decimal's 28; an API client could send them.
    with pytest.raises(InvalidInput, match="too large"):
        Money("1" * 30, "EUR")
    with pytest.raises(InvalidInput, match="too large"):
        _ = eur("999999999999999.00") + eur("1.00")
    assert str(eur("999999999999999.994").rounded()) == "999999999999999.99"


def test_money_never_mixes_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = eur("1.00") + Money("1.00", "USD")
    with pytest.raises(CurrencyMismatch):
        _ = eur("1.00") < Money("1.00", "USD")


def test_money_rounds_to_each_currencys_minor_unit() -> None:
    assert Money("1.0005", "KWD").rounded() == Money("1.001", "KWD")
    assert str(Money("2", "BHD")) == "2.000"
    assert str(Money("1166.5", "JPY").rounded()) == "1167"
    assert str(eur("540")) == "540.00"


def test_half_even_rounds_a_half_cent_to_the_even_cent() -> None:
    assert eur("0.125").rounded(MoneyRounding.HALF_UP) == eur("0.13")
    assert eur("0.125").rounded(MoneyRounding.HALF_EVEN) == eur("0.12")
    assert eur("-0.125").rounded(MoneyRounding.HALF_UP) == eur("-0.13")


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(InvalidInput, match="currency"):
        Money("1", "XYZ")


# time rounding


@pytest.mark.parametrize(
    ("mode", "raw", "billed"),
    [
        (TimeRoundingMode.UP, 7, 15),
        (TimeRoundingMode.UP, 15, 15),
        (TimeRoundingMode.DOWN, 29, 15),
        (TimeRoundingMode.NEAREST, 22, 15),
        (TimeRoundingMode.NEAREST, 23, 30),  # 22.5 is the half: 23 is past it
        (TimeRoundingMode.NEAREST, 7, 0),
    ],
)
def test_time_rounds_to_the_increment_by_mode(
    mode: TimeRoundingMode, raw: int, billed: int
) -> None:
    assert RoundingRule(increment=15, mode=mode).billed_for_entry(raw) == billed


def test_nearest_rounds_an_exact_half_increment_up() -> None:
    assert RoundingRule(increment=6, mode=TimeRoundingMode.NEAREST).billed_for_entry(3) == 6
    assert RoundingRule(increment=10, mode=TimeRoundingMode.NEAREST).billed_for_entry(15) == 20


def test_the_minimum_per_entry_wins_over_rounding_down() -> None:
    rule = RoundingRule(increment=15, mode=TimeRoundingMode.DOWN, minimum=30)
    assert rule.billed_for_entry(5) == 30
    assert rule.billed_for_entry(50) == 45


def test_case_scope_sums_raw_minutes_per_case_and_role_then_rounds_once() -> None:
    terms = contract(
        rates={"Senior": Decimal("60.00")},
        rounding=RoundingRule(increment=15, mode=TimeRoundingMode.UP, scope=RoundingScope.CASE),
    )
    invoice = compute_invoice(terms, [entry(5), entry(5), entry(5)])

    (line,) = invoice.lines
    assert line.minutes == 15  # per entry it would have been 45
    assert [e.billed_minutes for e in line.entries] == [None, None, None]
    assert [e.raw_minutes for e in line.entries] == [5, 5, 5]
    assert line.amount == eur("15.00")


def test_an_increment_outside_the_allowed_ones_is_refused() -> None:
    with pytest.raises(InvalidInput, match="increment"):
        RoundingRule(increment=7)


# contracts


def test_a_retainer_is_billed_monthly_and_a_fixed_fee_per_case() -> None:
    retainer = RetainerTerms(
        monthly_fee=Decimal(1000), included_minutes=600, overage_rate=Decimal(100)
    )
    with pytest.raises(InvalidInput, match="monthly"):
        contract(terms=retainer, grouping=Grouping.PER_CASE)
    with pytest.raises(InvalidInput, match="per case"):
        contract(terms=FixedFeeTerms(), grouping=Grouping.MONTHLY)


def test_credit_notes_have_their_own_number_series() -> None:
    with pytest.raises(InvalidInput, match="own number series"):
        contract(credit_note_numbers=NumberFormat(prefix="INV"))


def test_number_format_is_configurable_and_counts_per_prefix_and_year() -> None:
    numbers = NumberFormat(prefix="ACME", template="{year}/{prefix}/{number:05d}")
    assert numbers.format(year=2026, number=7) == "2026/ACME/00007"
    assert numbers.counter_key(2026) != numbers.counter_key(2027)
    with pytest.raises(InvalidInput, match="number"):
        NumberFormat(prefix="INV", template="{prefix}-{year}")


def test_a_role_without_a_rate_cannot_be_billed_by_the_hour() -> None:
    with pytest.raises(InvalidInput, match="no rate for the role 'Partner'"):
        compute_invoice(contract(), [entry(60, role="Partner")])


def test_a_fixed_fee_by_case_type_comes_from_the_contract() -> None:
    terms = contract(
        terms=FixedFeeTerms(fees_by_case_type={"onboarding": Decimal("2500.00")}),
        grouping=Grouping.PER_CASE,
    )
    fee = CaseFee(case_id="case-1", organisation_id="acme", case_type="onboarding")
    assert fee.price_under(terms) == eur("2500.00")
    with pytest.raises(InvalidInput, match="no fixed fee for case type"):
        CaseFee(case_id="c", organisation_id="acme", case_type="audit").price_under(terms)
    with pytest.raises(InvalidInput, match="not both"):
        CaseFee(case_id="c", organisation_id="acme", case_type="audit", price=Decimal(1))


def test_a_fixed_fee_in_another_currency_is_a_clear_error() -> None:
    terms = contract(terms=FixedFeeTerms(), grouping=Grouping.PER_CASE)
    with pytest.raises(CurrencyMismatch):
        compute_invoice(
            terms,
            [entry(60)],
            cases={
                "case-1": CaseBilling(case_id="case-1", label="X", fixed_fee=Money("100.00", "USD"))
            },
        )


# lines


def test_non_billable_time_is_shown_as_work_done_at_zero() -> None:
    invoice = compute_invoice(contract(), [entry(60), entry(45, billable=False)])

    charged, free = invoice.lines
    assert charged.amount == eur("180.00")
    assert free.kind is LineKind.NOT_CHARGED
    assert free.amount.is_zero
    assert free.minutes == 45
    assert invoice.net == eur("180.00")


def test_lines_are_one_per_case_role_and_rate_and_numbered_in_print_order() -> None:
    invoice = compute_invoice(
        contract(),
        [entry(60), entry(30, role="Engineer"), entry(60, case_id="case-2"), entry(15)],
        cases={
            "case-1": CaseBilling(case_id="case-1", label="B case"),
            "case-2": CaseBilling(case_id="case-2", label="A case"),
        },
    )
    assert [(line.number, line.case_id, line.role, line.minutes) for line in invoice.lines] == [
        (1, "case-2", "Senior", 60),
        (2, "case-1", "Senior", 75),
        (3, "case-1", "Engineer", 30),
    ]


def test_the_cap_counts_what_earlier_invoices_charged_for_the_case() -> None:
    terms = contract(terms=HourlyTerms(cap_per_case=Decimal("1000.00")))
    invoice = compute_invoice(
        terms,
        [entry(120)],
        cases={"case-1": CaseBilling(case_id="case-1", label="X", charged_before=eur("900.00"))},
    )
    assert [line.amount for line in invoice.lines] == [eur("360.00"), eur("-260.00")]
    assert invoice.net == eur("100.00")


def test_a_case_under_its_cap_has_no_cap_line() -> None:
    terms = contract(terms=HourlyTerms(cap_per_case=Decimal("1000.00")))
    invoice = compute_invoice(terms, [entry(60)])
    assert [line.kind for line in invoice.lines] == [LineKind.TIME]


def test_a_retainer_rolls_unused_hours_over_up_to_its_limit() -> None:
    terms = contract(
        terms=RetainerTerms(
            monthly_fee=Decimal("2000.00"),
            included_minutes=600,
            overage_rate=Decimal("150.00"),
            rollover_limit_minutes=120,
        ),
    )
    quiet = compute_invoice(terms, [entry(300)], period=BillingPeriod(2026, 10))
    assert quiet.carry_forward_minutes == 120  # 300 unused, at most 120 roll over
    busy = compute_invoice(
        terms, [entry(700)], period=BillingPeriod(2026, 11), carried_in_minutes=120
    )
    assert [line.kind for line in busy.lines if not line.amount.is_zero] == [LineKind.RETAINER_FEE]
    assert busy.gross == eur("2400.00")  # 700 ≤ 600 + 120: no overage


def test_a_retainer_without_roll_over_lets_unused_hours_expire() -> None:
    terms = contract(
        terms=RetainerTerms(
            monthly_fee=Decimal("2000.00"), included_minutes=600, overage_rate=Decimal("150")
        ),
    )
    assert compute_invoice(terms, [entry(60)]).carry_forward_minutes == 0


def test_time_of_another_organisation_is_refused() -> None:
    with pytest.raises(InvalidInput, match="another organisation"):
        compute_invoice(contract(), [entry(60, organisation_id="globex")])


def test_zero_or_negative_minutes_are_refused() -> None:
    for minutes in (0, -5):
        with pytest.raises(InvalidInput, match="at least 1 minute"):
            entry(minutes)


def test_billing_period_knows_its_days_and_neighbours() -> None:
    february = BillingPeriod(2028, 2)
    assert february.days == 29
    assert february.previous() == BillingPeriod(2028, 1)
    assert BillingPeriod(2026, 12).next() == BillingPeriod(2027, 1)
    assert BillingPeriod.parse("2026-10").last_day == date(2026, 10, 31)


def test_tax_rule_is_a_percentage_between_zero_and_one_hundred() -> None:
    with pytest.raises(InvalidInput, match="percentage"):
        TaxRule(rate_percent=Decimal(120))


def test_caps_and_fees_are_whole_amounts_of_the_currency() -> None:
    with pytest.raises(InvalidInput, match="not a whole amount of JPY"):
        contract(currency="JPY", terms=HourlyTerms(cap_per_case=Decimal("0.03")))
    with pytest.raises(InvalidInput, match="not a whole amount of EUR"):
        contract(
            terms=RetainerTerms(
                monthly_fee=Decimal("10.005"), included_minutes=60, overage_rate=Decimal(1)
            )
        )


def test_the_billing_package_exports_exactly_its_public_names() -> None:
    assert len(billing.__all__) == len(set(billing.__all__))
    assert all(hasattr(billing, name) for name in billing.__all__)
    assert {"BillingService", "Money", "Contract", "Invoice", "compute_invoice"} <= set(
        billing.__all__
    )
