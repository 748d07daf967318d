"""Properties of the billing rules that hold for every contract and every history (Hypothesis)."""

from __future__ import annotations

import ast
import contextlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import portal_core.billing
from portal_core.billing.compute import compute_invoice
from portal_core.billing.contract import (
    Contract,
    Grouping,
    HourlyTerms,
    RetainerTerms,
    TaxRule,
    TaxScope,
)
from portal_core.billing.credit_notes import CreditLine, compute_credit
from portal_core.billing.invoice import (
    CreditNote,
    Invoice,
    InvoiceCalculation,
    InvoiceLine,
    LineKind,
)
from portal_core.billing.money import Money, MoneyRounding, total
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.receivables import share_by_case
from portal_core.billing.rounding import (
    ALLOWED_INCREMENTS,
    RoundingRule,
    RoundingScope,
    TimeRoundingMode,
)
from portal_core.billing.service import EditTime, IssueCreditNote, LogTime
from portal_core.billing.time_entries import TimeEntry
from portal_core.cases.model import Case, CaseStatus
from portal_core.cases.service import ChangeStatus
from portal_core.errors import DomainError
from tests.unit.billing.builders import START, World, contract, make_world

ROLES = ("Senior", "Engineer")

rates = st.decimals(min_value=0, max_value=1000, places=2).map(Decimal)
whole_amounts = st.integers(0, 5000).map(Decimal)
percent = st.decimals(min_value=0, max_value=30, places=2).map(Decimal)
rounding_rules = st.builds(
    RoundingRule,
    increment=st.sampled_from(ALLOWED_INCREMENTS),
    mode=st.sampled_from(list(TimeRoundingMode)),
    minimum=st.sampled_from([0, 0, 6, 15]),
    scope=st.sampled_from(list(RoundingScope)),
)


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    currency = draw(st.sampled_from(["EUR", "JPY", "KWD"]))
    terms = draw(
        st.one_of(
            st.builds(HourlyTerms, cap_per_case=st.none() | whole_amounts),
            st.builds(
                RetainerTerms,
                monthly_fee=whole_amounts,
                included_minutes=st.integers(0, 1200),
                overage_rate=rates,
                rollover_limit_minutes=st.integers(0, 120),
            ),
        )
    )
    overrides: dict[str, Any] = {
        "terms": terms,
        "currency": currency,
        "rates": {role: draw(rates) for role in ROLES},
        "tax": TaxRule(rate_percent=draw(percent), scope=draw(st.sampled_from(list(TaxScope)))),
        "discount_percent": draw(st.sampled_from([Decimal(0), Decimal(0), draw(percent)])),
        "rounding": draw(rounding_rules),
        "money_rounding": draw(st.sampled_from(list(MoneyRounding))),
        "grouping": Grouping.MONTHLY,
    }
    return contract(**overrides)


@st.composite
def time_entries(draw: st.DrawFn) -> list[TimeEntry]:
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["case-1", "case-2", "case-3"]),
                st.sampled_from(ROLES),
                st.integers(1, 600),
                st.booleans(),
            ),
            max_size=12,
        )
    )
    return [
        TimeEntry(
            id=f"e{index}",
            organisation_id="acme",
            case_id=case_id,
            staff_id="sam",
            role=role,
            work_date=date(2026, 10, 1 + index % 28),
            minutes=minutes,
            description="",
            billable=billable,
            logged_at=START,
        )
        for index, (case_id, role, minutes, billable) in enumerate(rows)
    ]


def amounts_of(calculation: InvoiceCalculation) -> list[Money]:
    found = [calculation.net, calculation.tax, calculation.gross]
    for line in calculation.lines:
        found.append(line.amount)
        if line.rate is not None:
            found.append(line.rate)
    for tax in calculation.tax_lines:
        found.extend([tax.base, tax.amount])
    return found


@given(contracts(), time_entries())
def test_every_total_is_the_sum_of_the_printed_lines_above_it(
    terms: Contract, entries: list[TimeEntry]
) -> None:
    invoice = compute_invoice(terms, entries, period=BillingPeriod(2026, 10))

    assert invoice.net == total([line.amount for line in invoice.lines], terms.currency)
    assert invoice.tax == total([tax.amount for tax in invoice.tax_lines], terms.currency)
    assert invoice.gross.amount == invoice.net.amount + invoice.tax.amount
    assert all(line.amount.is_rounded for line in invoice.lines)
    assert invoice.tax.is_rounded


@given(contracts(), time_entries())
def test_money_is_decimal_everywhere_never_float(terms: Contract, entries: list[TimeEntry]) -> None:
    invoice = compute_invoice(terms, entries)
    for money in amounts_of(invoice):
        assert type(money.amount) is Decimal
        assert money.currency == terms.currency


@given(contracts(), time_entries())
def test_every_entry_is_listed_once_beneath_exactly_one_line(
    terms: Contract, entries: list[TimeEntry]
) -> None:
    invoice = compute_invoice(terms, entries)
    listed = [e.entry_id for line in invoice.lines for e in line.entries]
    assert sorted(listed) == sorted(e.id for e in entries)


@given(
    st.sampled_from(ALLOWED_INCREMENTS),
    st.lists(st.integers(1, 1440), min_size=1, max_size=10),
    st.sampled_from(list(RoundingScope)),
)
def test_rounding_up_never_bills_less_and_down_never_more_than_the_raw_time(
    increment: int, raw: list[int], scope: RoundingScope
) -> None:
    up = RoundingRule(increment=increment, mode=TimeRoundingMode.UP, scope=scope)
    down = RoundingRule(increment=increment, mode=TimeRoundingMode.DOWN, scope=scope)
    nearest = RoundingRule(increment=increment, mode=TimeRoundingMode.NEAREST, scope=scope)
    _, billed_up = up.billed_for_group(raw)
    _, billed_down = down.billed_for_group(raw)
    _, billed_nearest = nearest.billed_for_group(raw)
    assert billed_up >= sum(raw) >= billed_down
    assert billed_down <= billed_nearest <= billed_up
    for billed in (billed_up, billed_down, billed_nearest):
        assert billed % increment == 0


@given(
    st.lists(st.integers(1, 600), min_size=1, max_size=10),
    st.sampled_from(ALLOWED_INCREMENTS),
    st.sampled_from(list(TimeRoundingMode)),
)
def test_billing_never_rewrites_raw_minutes(
    raw: list[int], increment: int, mode: TimeRoundingMode
) -> None:
    terms = contract(rounding=RoundingRule(increment=increment, mode=mode))
    entries = [
        TimeEntry(
            id=f"e{i}",
            organisation_id="acme",
            case_id="case-1",
            staff_id="sam",
            role="Senior",
            work_date=date(2026, 10, 5),
            minutes=m,
            description="",
            logged_at=START,
        )
        for i, m in enumerate(raw)
    ]
    invoice = compute_invoice(terms, entries)
    assert [e.raw_minutes for line in invoice.lines for e in line.entries] == raw
    assert [e.minutes for e in entries] == raw


@given(contracts(), time_entries(), st.data())
def test_credit_notes_never_credit_more_than_was_invoiced(
    terms: Contract, entries: list[TimeEntry], data: st.DataObject
) -> None:
    calculation = compute_invoice(terms, entries)
    invoice = Invoice.draft(
        invoice_id="inv",
        organisation_id="acme",
        contract_id=terms.id,
        calculation=calculation,
        at=START,
        period=BillingPeriod(2026, 10),
    ).issued(number="INV-1", at=START, issue_date=date(2026, 11, 1), terms_days=30)
    notes: list[CreditNote] = []
    charged = [line for line in invoice.lines if line.amount.amount > 0]
    for _ in range(data.draw(st.integers(0, 4))):
        if charged and data.draw(st.booleans()):
            line = data.draw(st.sampled_from(charged))
            cents = data.draw(st.integers(1, int(line.amount.amount * 1000) or 1))
            amount = Money(Decimal(cents) / 1000, terms.currency).rounded()
            requested: tuple[CreditLine, ...] | None = (
                CreditLine(line_number=line.number, amount=amount),
            )
        else:
            requested = None
        try:
            credit = compute_credit(
                invoice,
                notes,
                requested,
                tax_scope=terms.tax.scope,
                mode=terms.money_rounding,
            )
            invoice = invoice.with_credit(credit.gross, at=START)
        except DomainError:
            continue
        notes.append(_note(invoice, credit, len(notes)))
        credited = total([n.gross for n in notes], terms.currency)
        assert credited <= invoice.gross
        assert invoice.amount_credited == credited
    for line in invoice.lines:
        taken = total(
            [c.amount for n in notes for c in n.lines if c.invoice_line == line.number],
            terms.currency,
        )
        if line.amount.amount >= 0:
            assert taken <= line.amount


def _note(invoice: Invoice, credit: Any, index: int) -> CreditNote:
    return CreditNote(
        id=f"cn{index}",
        number=f"CN-{index}",
        invoice_id=invoice.id,
        invoice_number="INV-1",
        organisation_id="acme",
        lines=credit.lines,
        tax=credit.tax,
        reason="x",
        issued_at=START,
        issue_date=date(2026, 11, 2),
    )


class BillingHistory(RuleBasedStateMachine):
    """Random time logging, edits, monthly runs, re-runs, recomputes, issues and credits: no
    entry is ever on two invoices, every entry's invoice lists it, and a re-run changes
    nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.world: World = make_world()
        self.world.set_contract()
        self.case = self.world.open_case()
        self.month = BillingPeriod(2026, 10)
        self.ran: list[BillingPeriod] = []

    @rule(minutes=st.integers(1, 480), billable=st.booleans(), back=st.integers(0, 40))
    def log_time(self, minutes: int, billable: bool, back: int) -> None:
        day = self.month.first_day.toordinal() + 27 - back
        self.world.billing.log_time(
            self.world.staff,
            LogTime(
                case_id=self.case.id,
                role="Senior",
                work_date=date.fromordinal(max(day, date(2026, 9, 1).toordinal())),
                minutes=minutes,
                description="",
                billable=billable,
            ),
        )

    @rule(pick=st.integers(0, 50), minutes=st.integers(1, 480))
    def edit_time(self, pick: int, minutes: int) -> None:
        entries = sorted(self.world.storage.state.time_entries.values(), key=lambda e: e.id)
        if not entries:
            return
        entry = entries[pick % len(entries)]
        with contextlib.suppress(DomainError):
            self.world.billing.edit_time(
                self.world.staff,
                EditTime(
                    entry_id=entry.id,
                    expected_version=entry.version,
                    role=entry.role,
                    work_date=entry.work_date,
                    minutes=minutes,
                    description="edited",
                    billable=entry.billable,
                ),
            )

    @rule()
    def close_month(self) -> None:
        self.world.clock.set(
            datetime.combine(self.month.next().first_day, datetime.min.time(), UTC).replace(hour=12)
        )
        self.world.billing.run_month(self.world.staff, "acme", self.month)
        self.ran.append(self.month)
        self.month = self.month.next()

    @precondition(lambda self: bool(self.ran))
    @rule(pick=st.integers(0, 20))
    def rerun_changes_nothing(self, pick: int) -> None:
        period = self.ran[pick % len(self.ran)]
        before = self.world.snapshot()
        self.world.billing.run_month(self.world.staff, "acme", period)
        assert self.world.snapshot() == before

    @rule(pick=st.integers(0, 20), issue=st.booleans())
    def recompute_or_issue(self, pick: int, issue: bool) -> None:
        invoices = sorted(self.world.storage.state.invoices.values(), key=lambda i: i.id)
        if not invoices:
            return
        invoice = invoices[pick % len(invoices)]
        with contextlib.suppress(DomainError):
            if issue:
                self.world.billing.issue(self.world.staff, invoice.id)
            else:
                self.world.billing.recompute(self.world.staff, invoice.id)

    @rule(pick=st.integers(0, 20))
    def void(self, pick: int) -> None:
        invoices = sorted(self.world.storage.state.invoices.values(), key=lambda i: i.id)
        if not invoices:
            return
        invoice = invoices[pick % len(invoices)]
        with contextlib.suppress(DomainError):
            self.world.billing.issue_credit_note(
                self.world.staff, IssueCreditNote(invoice_id=invoice.id, reason="void")
            )

    @invariant()
    def no_entry_is_billed_twice(self) -> None:
        state = self.world.storage.state
        seen: dict[str, str] = {}
        for invoice in state.invoices.values():
            for entry_id in invoice.calculation.entry_ids:
                assert entry_id not in seen, f"{entry_id} on {seen.get(entry_id)} and {invoice.id}"
                seen[entry_id] = invoice.id
        for entry in state.time_entries.values():
            assert seen.get(entry.id) == entry.invoice_id

    @invariant()
    def one_invoice_per_month_and_gapless_numbers(self) -> None:
        invoices = list(self.world.storage.state.invoices.values())
        keys = [i.billing_key for i in invoices]
        assert len(keys) == len(set(keys))
        by_year: dict[str, list[int]] = {}
        for invoice in invoices:
            if invoice.number:
                _, year, number = invoice.number.split("-")
                by_year.setdefault(year, []).append(int(number))
        for numbers in by_year.values():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))

    @invariant()
    def credited_never_exceeds_invoiced(self) -> None:
        for invoice in self.world.storage.state.invoices.values():
            assert invoice.amount_credited <= invoice.gross


TestBillingHistory = BillingHistory.TestCase
TestBillingHistory.settings = settings(stateful_step_count=25)


class PerCaseHistory(RuleBasedStateMachine):
    """Per-case billing over random histories of logging, resolving, reopening, drafting and
    issuing: no entry is ever on two invoices, and drafting a case twice in a row creates
    nothing the second time."""

    def __init__(self) -> None:
        super().__init__()
        self.world: World = make_world()
        self.world.set_contract(grouping=Grouping.PER_CASE)
        self.cases = [self.world.open_case(subject=s) for s in ("Audit", "Payroll")]

    def _case(self, pick: int) -> Case:
        case = self.world.storage.state.cases[self.cases[pick % len(self.cases)].id]
        return case

    @rule(pick=st.integers(0, 1), minutes=st.integers(1, 300), billable=st.booleans())
    def log_time(self, pick: int, minutes: int, billable: bool) -> None:
        self.world.billing.log_time(
            self.world.staff,
            LogTime(
                case_id=self._case(pick).id,
                role="Engineer",
                work_date=date(2026, 10, 5),
                minutes=minutes,
                description="",
                billable=billable,
            ),
        )

    @rule(
        pick=st.integers(0, 1),
        status=st.sampled_from([CaseStatus.RESOLVED, CaseStatus.IN_PROGRESS]),
    )
    def move(self, pick: int, status: CaseStatus) -> None:
        with contextlib.suppress(DomainError):
            self.world.cases.change_status(
                self.world.staff, ChangeStatus(case_id=self._case(pick).id, status=status)
            )

    @rule(pick=st.integers(0, 1))
    def draft_twice(self, pick: int) -> None:
        case = self._case(pick)
        try:
            first = self.world.billing.draft_for_resolved_case(self.world.staff, case.id)
        except DomainError:
            return
        before = self.world.snapshot()
        again = self.world.billing.draft_for_resolved_case(self.world.staff, case.id)
        assert (again.id if again else None) == (first.id if first else None)
        assert self.world.snapshot() == before

    @rule(pick=st.integers(0, 10))
    def issue(self, pick: int) -> None:
        drafts = sorted(
            (i for i in self.world.storage.state.invoices.values() if i.is_draft),
            key=lambda i: i.id,
        )
        if drafts:
            self.world.billing.issue(self.world.staff, drafts[pick % len(drafts)].id)

    @invariant()
    def no_entry_is_billed_twice(self) -> None:
        state = self.world.storage.state
        seen: dict[str, str] = {}
        for invoice in state.invoices.values():
            for entry_id in invoice.calculation.entry_ids:
                assert entry_id not in seen
                seen[entry_id] = invoice.id
        for entry in state.time_entries.values():
            assert seen.get(entry.id) == entry.invoice_id


TestPerCaseHistory = PerCaseHistory.TestCase
TestPerCaseHistory.settings = settings(stateful_step_count=25)


def test_no_float_is_written_anywhere_in_the_billing_code() -> None:
    package = Path(portal_core.billing.__file__).parent
    offending = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_literal = isinstance(node, ast.Constant) and isinstance(node.value, float)
            is_call = (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "float"
            )
            if is_literal or is_call:
                offending.append(f"{path.name}:{node.lineno}")
    assert len(list(package.glob("*.py"))) > 10
    assert offending == []


@given(
    st.lists(st.integers(1, 100_000), min_size=1, max_size=5),
    st.integers(1, 10_000_000),
)
def test_an_invoices_outstanding_amount_shared_among_its_cases_adds_up_exactly(
    case_cents: list[int], owed_cents: int
) -> None:
    lines = tuple(
        InvoiceLine(
            number=index + 1,
            kind=LineKind.TIME,
            description="",
            amount=Money(Decimal(cents) / 100, "EUR"),
            case_id=f"case-{index}",
        )
        for index, cents in enumerate(case_cents)
    )
    invoice = Invoice.draft(
        invoice_id="inv",
        organisation_id="acme",
        contract_id="c",
        calculation=InvoiceCalculation.of("EUR", lines, ()),
        at=START,
        period=BillingPeriod(2026, 10),
    )
    owed = Money(Decimal(owed_cents) / 100, "EUR")

    shares = share_by_case(invoice, owed)

    assert total([share for _, share in shares], "EUR") == owed
    assert all(share.is_rounded and not share.is_negative for _, share in shares)
