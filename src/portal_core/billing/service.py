"""Billing use cases: contracts, time, invoice runs, issuing, payments, credit notes, reports.

Each use case checks access first, computes with the pure rules (`compute`, `credit_notes`,
`receivables`, `wip`), stores the change with its audit entry and outbox row in one unit of
work, and dispatches the events only after the commit; a refused command writes nothing.

The triggers:
- per-case contracts: `draft_for_resolved_case` (a worker calls `on_case_status_changed` for
  every `CaseStatusChanged` to resolved) drafts the case's invoice, and issues it at once when
  the contract says so. It is idempotent: while the case's invoice is a draft it is recomputed
  and returned; once issued, the same invoice is returned unless time was logged on the case
  afterwards (an hourly case reopened and resolved again), which goes on a follow-up invoice.
- monthly contracts: `run_month` drafts one invoice per organisation and month, once the month
  has ended in the firm's time zone. A second run for the same month returns the invoice of the
  first and changes nothing. Every unbilled entry dated up to the month's last day goes on it,
  so time logged after an earlier month's invoice goes on the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from attrs import asdict, field, frozen

from portal_core import access
from portal_core.billing import access as billing_access
from portal_core.billing.compute import CaseBilling, compute_invoice
from portal_core.billing.contract import (
    DEFAULT_CREDIT_NOTE_NUMBERS,
    DEFAULT_INVOICE_NUMBERS,
    CaseFee,
    Contract,
    FixedFeeTerms,
    Grouping,
    HourlyTerms,
    NumberFormat,
    RetainerTerms,
    TaxRule,
    Terms,
)
from portal_core.billing.credit_notes import CreditLine, compute_credit
from portal_core.billing.events import (
    CaseFeeSet,
    ContractSet,
    CreditNoteDocumentStored,
    CreditNoteIssued,
    InvoiceDocumentStored,
    InvoiceDrafted,
    InvoiceIssued,
    InvoiceRecomputed,
    PaymentRecorded,
    TimeEntryDeleted,
    TimeEntryEdited,
    TimeLogged,
)
from portal_core.billing.invoice import (
    CreditNote,
    Invoice,
    InvoiceCalculation,
    InvoiceStatus,
    Payment,
)
from portal_core.billing.money import Money, MoneyRounding, total
from portal_core.billing.periods import (
    DEFAULT_FIRM_TIME_ZONE,
    BillingPeriod,
    firm_zone,
    local_date,
)
from portal_core.billing.receivables import (
    AgingRow,
    DaysSalesOutstanding,
    aging,
    days_sales_outstanding,
)
from portal_core.billing.rounding import RoundingRule
from portal_core.billing.time_entries import TimeEntry, check_minutes
from portal_core.billing.wip import WorkInProgress, work_in_progress
from portal_core.cases.model import Case, CaseStatus, CaseStatusChanged
from portal_core.dispatch import EventDispatcher, event_header, record_change
from portal_core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from portal_core.events import DomainEvent, EventHeader
from portal_core.organisations.model import Principal
from portal_core.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory

BILLING_ACTOR = "billing"
MONTHLY_RUN_SOURCE = "billing.monthly_run"


# --- commands ----------------------------------------------------------------------------------


@frozen(kw_only=True)
class SetContract:
    """The organisation's contract from now on (see `Contract` for each setting)."""

    organisation_id: str
    terms: Terms
    currency: str
    rates: dict[str, Decimal]
    tax: TaxRule
    grouping: Grouping
    discount_percent: Decimal = Decimal(0)
    payment_terms_days: int = 30
    rounding: RoundingRule = field(factory=RoundingRule)
    money_rounding: MoneyRounding = MoneyRounding.HALF_UP
    auto_issue: bool = False
    invoice_numbers: NumberFormat = DEFAULT_INVOICE_NUMBERS
    credit_note_numbers: NumberFormat = DEFAULT_CREDIT_NOTE_NUMBERS


@frozen(kw_only=True)
class SetCaseFee:
    """A fixed-fee case's price: its own `price`, or its `case_type` priced by the contract."""

    case_id: str
    case_type: str | None = None
    price: Decimal | None = None


@frozen(kw_only=True)
class LogTime:
    case_id: str
    role: str
    work_date: date
    minutes: int
    description: str
    billable: bool = True
    staff_id: str | None = None
    """Who did the work; the person logging it when None."""


@frozen(kw_only=True)
class EditTime:
    entry_id: str
    expected_version: int
    role: str
    work_date: date
    minutes: int
    description: str
    billable: bool = True


@frozen(kw_only=True)
class DeleteTime:
    entry_id: str
    expected_version: int


@frozen(kw_only=True)
class RecordPayment:
    invoice_id: str
    amount: Money
    received_on: date
    reference: str
    """The bank's or the payment gateway's reference: recording it again changes nothing."""


@frozen(kw_only=True)
class IssueCreditNote:
    invoice_id: str
    reason: str
    lines: tuple[CreditLine, ...] | None = None
    """The lines to credit; None credits everything still credited (voids the invoice)."""


# --- results -----------------------------------------------------------------------------------


@frozen(kw_only=True)
class MonthlyRun:
    period: BillingPeriod
    invoices: tuple[Invoice, ...]
    """The month's invoice of every organisation that had something to bill."""
    refused: tuple[tuple[str, str], ...]
    """(organisation id, reason) of every organisation whose run was refused."""


@frozen(kw_only=True)
class Receivables:
    on: date
    by_client: tuple[AgingRow, ...]
    by_case: tuple[AgingRow, ...]


# --- the service -------------------------------------------------------------------------------


class BillingService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        dispatcher: EventDispatcher,
        time_zone: str = DEFAULT_FIRM_TIME_ZONE,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._dispatcher = dispatcher
        self._zone = firm_zone(time_zone)

    def today(self) -> date:
        """Today in the firm's time zone."""
        return local_date(self._clock.now(), self._zone)

    # contracts ----------------------------------------------------------------------------

    def set_contract(self, principal: Principal, command: SetContract) -> Contract:
        access.require(
            billing_access.can_configure_billing(principal), "Only admins set contracts."
        )
        now = self._clock.now()
        contract = Contract(id=self._ids.new_id(), created_at=now, **asdict(command, recurse=False))
        with self._uow() as uow:
            organisation = uow.organisations.get(command.organisation_id)
            if organisation is None:
                raise NotFound("No such organisation.")
            uow.contracts.add(contract)
            event = ContractSet(
                **self._base(principal, contract.organisation_id),
                contract_id=contract.id,
                contract_kind=contract.kind.value,
                grouping=contract.grouping.value,
                currency=contract.currency,
            )
            self._record(uow, event, "contract", contract.id, outbox=False)
            uow.commit()
        self._dispatcher.dispatch([event])
        return contract

    def contract_for(self, principal: Principal, organisation_id: str) -> Contract | None:
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff see contracts."
        )
        with self._uow(read_only=True) as uow:
            return uow.contracts.current(organisation_id)

    def set_case_fee(self, principal: Principal, command: SetCaseFee) -> CaseFee:
        access.require(
            billing_access.can_configure_billing(principal), "Only admins set fixed fees."
        )
        with self._uow() as uow:
            case = access.require_case(principal, uow.cases.get(command.case_id))
            fee = CaseFee(
                case_id=case.id,
                organisation_id=case.organisation_id,
                case_type=command.case_type,
                price=command.price,
            )
            contract = self._contract(uow, case.organisation_id)
            fee.price_under(contract)  # refuse a type the contract does not price, now
            uow.case_fees.put(fee)
            event = CaseFeeSet(
                **self._base(principal, case.organisation_id),
                case_id=case.id,
                case_type=fee.case_type,
                price=None if fee.price is None else str(contract.money(fee.price)),
            )
            self._record(uow, event, "case", case.id, outbox=False)
            uow.commit()
        self._dispatcher.dispatch([event])
        return fee

    # time ---------------------------------------------------------------------------------

    def log_time(self, principal: Principal, command: LogTime) -> TimeEntry:
        access.require(billing_access.can_log_time(principal), "Only the firm's staff log time.")
        check_minutes(command.minutes)
        with self._uow() as uow:
            case = access.require_case(principal, uow.cases.get(command.case_id))
            staff_id = command.staff_id or principal.user_id
            if command.staff_id is not None:
                worker = uow.users.get(command.staff_id)
                if worker is None or not worker.as_principal().is_staff:
                    raise InvalidInput("Time is logged for a member of staff.")
            entry = TimeEntry(
                id=self._ids.new_id(),
                organisation_id=case.organisation_id,
                case_id=case.id,
                staff_id=staff_id,
                role=command.role.strip(),
                work_date=command.work_date,
                minutes=command.minutes,
                description=command.description.strip(),
                billable=command.billable,
                logged_at=self._clock.now(),
            )
            self._check_rate(uow, entry)
            uow.time_entries.add(entry)
            event = TimeLogged(
                **self._base(principal, case.organisation_id),
                entry_id=entry.id,
                case_id=case.id,
                staff_id=staff_id,
                minutes=entry.minutes,
                billable=entry.billable,
            )
            self._record(uow, event, "time_entry", entry.id)
            uow.commit()
        self._dispatcher.dispatch([event])
        return entry

    def edit_time(self, principal: Principal, command: EditTime) -> TimeEntry:
        """Correct an entry while it is unbilled or on a draft (the draft is recomputed)."""
        access.require(billing_access.can_log_time(principal), "Only the firm's staff edit time.")
        check_minutes(command.minutes)
        events: list[DomainEvent] = []
        with self._uow() as uow:
            stored = self._entry(uow, principal, command.entry_id)
            draft = self._draft_holding(uow, stored)
            entry = stored.edited(
                minutes=command.minutes,
                role=command.role,
                work_date=command.work_date,
                description=command.description,
                billable=command.billable,
                on_draft=draft is not None,
            )
            self._check_rate(uow, entry)
            uow.time_entries.update(entry, expected_version=command.expected_version)
            event = TimeEntryEdited(
                **self._base(principal, entry.organisation_id),
                entry_id=entry.id,
                case_id=entry.case_id,
                minutes=entry.minutes,
                billable=entry.billable,
            )
            self._record(uow, event, "time_entry", entry.id)
            events.append(event)
            if draft is not None:
                self._recompute(uow, principal, draft, events)
            uow.commit()
        self._dispatcher.dispatch(events)
        return entry

    def delete_time(self, principal: Principal, command: DeleteTime) -> None:
        """Remove an entry while it is unbilled or on a draft (the draft is recomputed)."""
        access.require(billing_access.can_log_time(principal), "Only the firm's staff delete time.")
        events: list[DomainEvent] = []
        with self._uow() as uow:
            entry = self._entry(uow, principal, command.entry_id)
            draft = self._draft_holding(uow, entry)
            if entry.is_billed and draft is None:
                raise InvalidTransition(
                    "This time is on an issued invoice; correct it with a credit note instead."
                )
            uow.time_entries.delete(entry.id, expected_version=command.expected_version)
            event = TimeEntryDeleted(
                **self._base(principal, entry.organisation_id),
                entry_id=entry.id,
                case_id=entry.case_id,
            )
            self._record(uow, event, "time_entry", entry.id)
            events.append(event)
            if draft is not None:
                self._recompute(uow, principal, draft, events)
            uow.commit()
        self._dispatcher.dispatch(events)

    # drafting -----------------------------------------------------------------------------

    def on_case_status_changed(self, event: CaseStatusChanged) -> Invoice | None:
        """The per-case trigger, for a worker reading case events: a case resolved under a
        contract that groups per case gets its invoice drafted. Anything else is ignored."""
        if event.new_status is not CaseStatus.RESOLVED or event.organisation_id is None:
            return None
        with self._uow(read_only=True) as uow:
            contract = uow.contracts.current(event.organisation_id)
        if contract is None or contract.grouping is not Grouping.PER_CASE:
            return None
        return self.draft_for_resolved_case(Principal.system(BILLING_ACTOR), event.case_id)

    def draft_for_resolved_case(self, principal: Principal, case_id: str) -> Invoice | None:
        """The invoice of a resolved case under a per-case contract (see the module docstring);
        None when the case has nothing to bill."""
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff draft invoices."
        )
        events: list[DomainEvent] = []
        with self._uow() as uow:
            case = access.require_case(principal, uow.cases.get(case_id))
            if case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
                raise InvalidTransition(
                    f"Case {case.reference} is not resolved; its invoice comes when it is."
                )
            contract = self._contract(uow, case.organisation_id)
            if contract.grouping is not Grouping.PER_CASE:
                raise InvalidInput(
                    "This organisation is invoiced monthly; its time goes on the monthly run."
                )
            own = [i for i in uow.invoices.for_case(case.id) if i.case_id == case.id]
            draft = next((i for i in own if i.is_draft), None)
            if draft is not None:
                invoice = self._recompute(uow, principal, draft, events)
                uow.commit()
                self._dispatcher.dispatch(events)
                return invoice
            entries = uow.time_entries.unbilled(case.organisation_id, case_id=case.id)
            if own and (
                isinstance(contract.terms, FixedFeeTerms) or not any(e.billable for e in entries)
            ):
                return own[-1]  # already invoiced, and nothing new to charge
            cases = self._case_billing(uow, contract, [case.id], charge_fees=not own)
            if not entries and cases[case.id].fixed_fee is None:
                return None
            calculation = compute_invoice(contract, entries, cases=cases)
            key = f"case:{case.id}" if not own else f"case:{case.id}:{len(own) + 1}"
            invoice = self._add_draft(
                uow,
                principal,
                contract,
                calculation,
                events,
                case_id=case.id,
                billing_key=key,
            )
            if contract.auto_issue:
                invoice = self._issue(uow, principal, invoice, contract, events)
            uow.commit()
        self._dispatcher.dispatch(events)
        return invoice

    def run_month(
        self, principal: Principal, organisation_id: str, period: BillingPeriod
    ) -> Invoice | None:
        """The organisation's invoice for `period` (see the module docstring); None when an
        hourly organisation had no time to bill. Running a month again changes nothing: it
        returns the month's invoice, or None again."""
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff run billing."
        )
        if self.today() <= period.last_day:
            raise InvalidInput(f"{period.label()} has not ended yet; bill it from the 1st.")
        events: list[DomainEvent] = []
        with self._uow() as uow:
            contract = self._contract(uow, organisation_id)
            if contract.grouping is not Grouping.MONTHLY:
                raise InvalidInput(
                    "This organisation is invoiced per case, when each case is resolved."
                )
            existing = uow.invoices.by_billing_key(organisation_id, f"period:{period.key}")
            if existing is not None:
                return existing
            # A month is run once, even when it had nothing to bill: time dated in it but
            # logged later goes on the next month's invoice, never on a late one of its own.
            first_run = uow.processed_events.record(
                MONTHLY_RUN_SOURCE, f"{organisation_id}:{period.key}", at=self._clock.now()
            )
            if not first_run:
                return None
            calculation = self._calculate_month(uow, contract, period, exclude=None)
            if calculation is None:
                uow.commit()
                return None
            invoice = self._add_draft(uow, principal, contract, calculation, events, period=period)
            uow.commit()
        self._dispatcher.dispatch(events)
        return invoice

    def run_month_for_all(self, principal: Principal, period: BillingPeriod) -> MonthlyRun:
        """The monthly run: `run_month` for every organisation invoiced monthly, each in its
        own transaction, so one organisation's refusal (a role without a rate, say) never holds
        up the others' invoices; the refusals are reported with the organisation."""
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff run billing."
        )
        with self._uow(read_only=True) as uow:
            monthly = [
                o.id
                for o in uow.organisations.list()
                if (c := uow.contracts.current(o.id)) is not None and c.grouping is Grouping.MONTHLY
            ]
        invoices = []
        refused = []
        for organisation_id in monthly:
            try:
                invoice = self.run_month(principal, organisation_id, period)
            except DomainError as error:
                refused.append((organisation_id, error.message))
                continue
            if invoice is not None:
                invoices.append(invoice)
        return MonthlyRun(period=period, invoices=tuple(invoices), refused=tuple(refused))

    def recompute(self, principal: Principal, invoice_id: str) -> Invoice:
        """Recompute a draft from the time and contract now in force."""
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff edit drafts."
        )
        events: list[DomainEvent] = []
        with self._uow() as uow:
            invoice = billing_access.require_invoice(principal, uow.invoices.get(invoice_id))
            invoice = self._recompute(uow, principal, invoice, events)
            uow.commit()
        self._dispatcher.dispatch(events)
        return invoice

    # issuing, payments, credit notes ------------------------------------------------------

    def issue(self, principal: Principal, invoice_id: str) -> Invoice:
        """Number the draft (gap-free, in this transaction), date it and make it final."""
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff issue invoices."
        )
        events: list[DomainEvent] = []
        with self._uow() as uow:
            invoice = billing_access.require_invoice(principal, uow.invoices.get(invoice_id))
            contract = uow.contracts.get(invoice.contract_id)
            if contract is None:
                raise NotFound("The invoice's contract is gone.")
            invoice = self._issue(uow, principal, invoice, contract, events)
            uow.commit()
        self._dispatcher.dispatch(events)
        return invoice

    def record_payment(self, principal: Principal, command: RecordPayment) -> Invoice:
        """Record money received. The same reference again is ignored if it is the same
        amount and refused (Conflict) if not; more than the balance is kept as overpaid."""
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff record payments."
        )
        with self._uow() as uow:
            invoice = billing_access.require_invoice(
                principal, uow.invoices.get(command.invoice_id)
            )
            seen = next((p for p in invoice.payments if p.reference == command.reference), None)
            if seen is not None:
                if seen.amount != command.amount:
                    raise Conflict(f"Payment {command.reference} was recorded with {seen.amount}.")
                return invoice
            before = invoice.version
            payment = Payment(
                id=self._ids.new_id(),
                amount=command.amount,
                received_on=command.received_on,
                reference=command.reference.strip(),
                recorded_at=self._clock.now(),
            )
            invoice = invoice.with_payment(payment)
            uow.invoices.update(invoice, expected_version=before)
            event = PaymentRecorded(
                **self._base(principal, invoice.organisation_id),
                invoice_id=invoice.id,
                payment_id=payment.id,
                reference=payment.reference,
                amount=str(payment.amount),
                currency=invoice.currency,
                status=invoice.status.value,
                overpaid=str(invoice.overpaid),
            )
            self._record(uow, event, "invoice", invoice.id)
            uow.commit()
        self._dispatcher.dispatch([event])
        return invoice

    def issue_credit_note(self, principal: Principal, command: IssueCreditNote) -> CreditNote:
        access.require(
            billing_access.can_manage_invoices(principal),
            "Only the firm's staff issue credit notes.",
        )
        reason = command.reason.strip()
        if not reason:
            raise InvalidInput("Say why the invoice is credited.")
        with self._uow() as uow:
            invoice = billing_access.require_invoice(
                principal, uow.invoices.get(command.invoice_id)
            )
            contract = uow.contracts.get(invoice.contract_id)
            if contract is None:
                raise NotFound("The invoice's contract is gone.")
            earlier = uow.credit_notes.for_invoice(invoice.id)
            calculation = compute_credit(
                invoice,
                earlier,
                command.lines,
                tax_scope=contract.tax.scope,
                mode=contract.money_rounding,
            )
            now = self._clock.now()
            today = local_date(now, self._zone)
            numbers = contract.credit_note_numbers
            number = numbers.format(
                year=today.year, number=uow.counters.next_value(numbers.counter_key(today.year))
            )
            invoice_number = invoice.number
            assert invoice_number is not None
            note = CreditNote(
                id=self._ids.new_id(),
                number=number,
                invoice_id=invoice.id,
                invoice_number=invoice_number,
                organisation_id=invoice.organisation_id,
                lines=calculation.lines,
                tax=calculation.tax,
                reason=reason,
                issued_at=now,
                issue_date=today,
            )
            before = invoice.version
            invoice = invoice.with_credit(note.gross, at=now)
            uow.invoices.update(invoice, expected_version=before)
            uow.credit_notes.add(note)
            event = CreditNoteIssued(
                **self._base(principal, invoice.organisation_id),
                credit_note_id=note.id,
                number=note.number,
                invoice_id=invoice.id,
                invoice_number=invoice_number,
                gross=str(note.gross),
                currency=note.currency,
            )
            self._record(uow, event, "credit_note", note.id)
            uow.commit()
        self._dispatcher.dispatch([event])
        return note

    def record_invoice_document(
        self, principal: Principal, invoice_id: str, *, key: str, sha256: str
    ) -> Invoice:
        """Keep where an issued invoice's rendered PDF is stored, and its SHA-256 (once)."""
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff store invoices."
        )
        with self._uow() as uow:
            invoice = billing_access.require_invoice(principal, uow.invoices.get(invoice_id))
            before = invoice.version
            invoice = invoice.with_document(key=key, sha256=sha256, at=self._clock.now())
            uow.invoices.update(invoice, expected_version=before)
            event = InvoiceDocumentStored(
                **self._base(principal, invoice.organisation_id),
                invoice_id=invoice.id,
                document_key=key,
                sha256=sha256,
            )
            self._record(uow, event, "invoice", invoice.id, outbox=False)
            uow.commit()
        self._dispatcher.dispatch([event])
        return invoice

    def record_credit_note_document(
        self, principal: Principal, credit_note_id: str, *, key: str, sha256: str
    ) -> CreditNote:
        access.require(
            billing_access.can_manage_invoices(principal),
            "Only the firm's staff store credit notes.",
        )
        with self._uow() as uow:
            note = billing_access.require_credit_note(
                principal, uow.credit_notes.get(credit_note_id)
            )
            note = note.with_document(key=key, sha256=sha256)
            uow.credit_notes.update(note)
            event = CreditNoteDocumentStored(
                **self._base(principal, note.organisation_id),
                credit_note_id=note.id,
                document_key=key,
                sha256=sha256,
            )
            self._record(uow, event, "credit_note", note.id, outbox=False)
            uow.commit()
        self._dispatcher.dispatch([event])
        return note

    # queries ------------------------------------------------------------------------------

    def list_invoices(
        self, principal: Principal, organisation_id: str | None = None
    ) -> Sequence[Invoice]:
        """Invoices the principal may see, newest first: clients their organisation's issued
        ones (another organisation's: none), staff every one, drafts included."""
        scope = access.organisation_scope(principal)
        if scope is not None:
            if organisation_id not in (None, scope) or not access.can_see_invoices(
                principal, scope
            ):
                return []
            organisation_id = scope
        with self._uow(read_only=True) as uow:
            return uow.invoices.list(
                organisation_id=organisation_id, include_drafts=principal.is_staff
            )

    def get_invoice(self, principal: Principal, invoice_id: str) -> Invoice:
        with self._uow(read_only=True) as uow:
            return billing_access.require_invoice(principal, uow.invoices.get(invoice_id))

    def invoice_status(self, principal: Principal, invoice_id: str) -> InvoiceStatus:
        """The status as shown today (overdue included)."""
        return self.get_invoice(principal, invoice_id).status_on(self.today())

    def credit_notes(self, principal: Principal, invoice_id: str) -> Sequence[CreditNote]:
        with self._uow(read_only=True) as uow:
            invoice = billing_access.require_invoice(principal, uow.invoices.get(invoice_id))
            return uow.credit_notes.for_invoice(invoice.id)

    def get_credit_note(self, principal: Principal, credit_note_id: str) -> CreditNote:
        with self._uow(read_only=True) as uow:
            return billing_access.require_credit_note(
                principal, uow.credit_notes.get(credit_note_id)
            )

    def case_work_in_progress(self, principal: Principal, case_id: str) -> WorkInProgress:
        with self._uow() as uow:
            case = access.require_case(principal, uow.cases.get(case_id))
            return self._work_in_progress(uow, principal, case.organisation_id, case.id)

    def organisation_work_in_progress(
        self, principal: Principal, organisation_id: str
    ) -> WorkInProgress:
        access.require_organisation(principal, organisation_id)
        with self._uow() as uow:
            return self._work_in_progress(uow, principal, organisation_id, None)

    def receivables(self, principal: Principal, *, on: date | None = None) -> Receivables:
        access.require(
            billing_access.can_manage_invoices(principal),
            "Only the firm's staff see receivables.",
        )
        day = on or self.today()
        with self._uow(read_only=True) as uow:
            invoices = uow.invoices.list(organisation_id=None, include_drafts=False)
            notes = uow.credit_notes.list(organisation_id=None)
        return Receivables(
            on=day,
            by_client=tuple(aging(invoices, notes, on=day)),
            by_case=tuple(aging(invoices, notes, on=day, by_case=True)),
        )

    def days_sales_outstanding(
        self, principal: Principal, *, start: date, end: date, organisation_id: str | None = None
    ) -> list[DaysSalesOutstanding]:
        access.require(
            billing_access.can_manage_invoices(principal), "Only the firm's staff see DSO."
        )
        with self._uow(read_only=True) as uow:
            invoices = uow.invoices.list(organisation_id=organisation_id, include_drafts=False)
            notes = uow.credit_notes.list(organisation_id=organisation_id)
        return days_sales_outstanding(invoices, notes, start=start, end=end)

    # helpers ------------------------------------------------------------------------------

    def _base(self, principal: Principal, organisation_id: str | None) -> EventHeader:
        return event_header(
            self._ids, self._clock, actor_id=principal.user_id, organisation_id=organisation_id
        )

    def _record(
        self,
        uow: UnitOfWork,
        event: DomainEvent,
        subject_type: str,
        subject_id: str,
        *,
        outbox: bool = True,
    ) -> None:
        record_change(
            uow,
            event,
            ids=self._ids,
            subject_type=subject_type,
            subject_id=subject_id,
            outbox=outbox,
        )

    def _contract(self, uow: UnitOfWork, organisation_id: str) -> Contract:
        contract = uow.contracts.current(organisation_id)
        if contract is None:
            raise InvalidInput("The organisation has no contract yet; an admin sets one first.")
        return contract

    def _entry(self, uow: UnitOfWork, principal: Principal, entry_id: str) -> TimeEntry:
        entry = uow.time_entries.get(entry_id)
        if entry is None or not access.can_see_organisation(principal, entry.organisation_id):
            raise NotFound("No such time entry.")
        return entry

    def _draft_holding(self, uow: UnitOfWork, entry: TimeEntry) -> Invoice | None:
        if entry.invoice_id is None:
            return None
        invoice = uow.invoices.get(entry.invoice_id)
        return invoice if invoice is not None and invoice.is_draft else None

    def _check_rate(self, uow: UnitOfWork, entry: TimeEntry) -> None:
        """Refuse a role the hourly contract has no rate for when the time is logged, rather
        than when the invoice is drafted."""
        contract = uow.contracts.current(entry.organisation_id)
        if contract is not None and isinstance(contract.terms, HourlyTerms) and entry.billable:
            contract.rate_for(entry.role)

    def _case_label(self, case: Case | None, case_id: str) -> str:
        return f"{case.number} {case.subject}" if case is not None else case_id

    def _case_billing(
        self,
        uow: UnitOfWork,
        contract: Contract,
        case_ids: Sequence[str],
        *,
        charge_fees: bool,
        exclude: str | None = None,
    ) -> dict[str, CaseBilling]:
        """Labels, fixed fees to charge, and what earlier invoices charged (for caps)."""
        result = {}
        for case_id in case_ids:
            case = uow.cases.get(case_id)
            fee = None
            if charge_fees and isinstance(contract.terms, FixedFeeTerms):
                case_fee = uow.case_fees.get(case_id)
                if case_fee is None:
                    raise InvalidInput(
                        f"Case {self._case_label(case, case_id)} has no fixed fee; set it first."
                    )
                fee = case_fee.price_under(contract)
            charged_before = None
            if isinstance(contract.terms, HourlyTerms) and contract.terms.cap_per_case is not None:
                charged_before = total(
                    [
                        i.calculation.net_for_case(case_id)
                        for i in uow.invoices.for_case(case_id)
                        if i.id != exclude
                    ],
                    contract.currency,
                )
            result[case_id] = CaseBilling(
                case_id=case_id,
                label=self._case_label(case, case_id),
                fixed_fee=fee,
                charged_before=charged_before,
            )
        return result

    def _carried_in(self, uow: UnitOfWork, contract: Contract, period: BillingPeriod) -> int:
        if not isinstance(contract.terms, RetainerTerms):
            return 0
        previous = uow.invoices.by_billing_key(
            contract.organisation_id, f"period:{period.previous().key}"
        )
        return previous.calculation.carry_forward_minutes if previous is not None else 0

    def _calculate_month(
        self, uow: UnitOfWork, contract: Contract, period: BillingPeriod, *, exclude: str | None
    ) -> InvoiceCalculation | None:
        entries = uow.time_entries.unbilled(contract.organisation_id, through=period.last_day)
        if not entries and not isinstance(contract.terms, RetainerTerms):
            return None
        cases = self._case_billing(
            uow,
            contract,
            sorted({e.case_id for e in entries}),
            charge_fees=False,
            exclude=exclude,
        )
        return compute_invoice(
            contract,
            entries,
            cases=cases,
            period=period,
            carried_in_minutes=self._carried_in(uow, contract, period),
        )

    def _add_draft(
        self,
        uow: UnitOfWork,
        principal: Principal,
        contract: Contract,
        calculation: InvoiceCalculation,
        events: list[DomainEvent],
        *,
        case_id: str | None = None,
        period: BillingPeriod | None = None,
        billing_key: str | None = None,
    ) -> Invoice:
        invoice = Invoice.draft(
            invoice_id=self._ids.new_id(),
            organisation_id=contract.organisation_id,
            contract_id=contract.id,
            calculation=calculation,
            at=self._clock.now(),
            case_id=case_id,
            period=period,
            billing_key=billing_key,
        )
        uow.invoices.add(invoice)
        uow.time_entries.attach(calculation.entry_ids, invoice.id)
        event = InvoiceDrafted(
            **self._base(principal, invoice.organisation_id),
            invoice_id=invoice.id,
            billing_key=invoice.billing_key,
            case_id=case_id,
            period=period.key if period else None,
            gross=str(invoice.gross),
            currency=invoice.currency,
        )
        self._record(uow, event, "invoice", invoice.id)
        events.append(event)
        return invoice

    def _recompute(
        self,
        uow: UnitOfWork,
        principal: Principal,
        invoice: Invoice,
        events: list[DomainEvent],
    ) -> Invoice:
        if not invoice.is_draft:
            raise InvalidTransition(
                f"Invoice {invoice.number} is issued and cannot be changed; "
                "correct it with a credit note."
            )
        contract = self._contract(uow, invoice.organisation_id)
        uow.time_entries.detach(invoice.id)
        if invoice.period is not None:
            calculation = self._calculate_month(uow, contract, invoice.period, exclude=invoice.id)
            if calculation is None:
                calculation = compute_invoice(contract, [])
        else:
            assert invoice.case_id is not None
            entries = uow.time_entries.unbilled(invoice.organisation_id, case_id=invoice.case_id)
            first = invoice.billing_key == f"case:{invoice.case_id}"
            cases = self._case_billing(
                uow, contract, [invoice.case_id], charge_fees=first, exclude=invoice.id
            )
            calculation = compute_invoice(contract, entries, cases=cases)
        uow.time_entries.attach(calculation.entry_ids, invoice.id)
        if calculation == invoice.calculation and contract.id == invoice.contract_id:
            return invoice  # nothing changed: no new version, no event
        before = invoice.version
        invoice = invoice.recomputed(calculation, contract_id=contract.id, at=self._clock.now())
        uow.invoices.update(invoice, expected_version=before)
        event = InvoiceRecomputed(
            **self._base(principal, invoice.organisation_id),
            invoice_id=invoice.id,
            gross=str(invoice.gross),
            currency=invoice.currency,
        )
        self._record(uow, event, "invoice", invoice.id, outbox=False)
        events.append(event)
        return invoice

    def _issue(
        self,
        uow: UnitOfWork,
        principal: Principal,
        invoice: Invoice,
        contract: Contract,
        events: list[DomainEvent],
    ) -> Invoice:
        if not invoice.is_draft:
            raise InvalidTransition(f"Invoice {invoice.number} is issued already.")
        if invoice.gross.is_negative:
            raise InvalidInput("An invoice cannot be for less than nothing.")
        now = self._clock.now()
        today = local_date(now, self._zone)
        numbers = contract.invoice_numbers
        number = numbers.format(
            year=today.year, number=uow.counters.next_value(numbers.counter_key(today.year))
        )
        before = invoice.version
        invoice = invoice.issued(
            number=number, at=now, issue_date=today, terms_days=contract.payment_terms_days
        )
        uow.invoices.update(invoice, expected_version=before)
        assert invoice.issue_date is not None
        assert invoice.due_date is not None
        event = InvoiceIssued(
            **self._base(principal, invoice.organisation_id),
            invoice_id=invoice.id,
            number=number,
            gross=str(invoice.gross),
            currency=invoice.currency,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
        )
        self._record(uow, event, "invoice", invoice.id)
        events.append(event)
        return invoice

    def _work_in_progress(
        self,
        uow: UnitOfWork,
        principal: Principal,
        organisation_id: str,
        case_id: str | None,
    ) -> WorkInProgress:
        if not billing_access.can_see_work_in_progress(principal, organisation_id):
            raise NotFound("No such organisation.")
        contract = self._contract(uow, organisation_id)
        entries = uow.time_entries.unbilled(organisation_id)
        case_ids = sorted({e.case_id for e in entries} | ({case_id} if case_id else set()))
        cases = {}
        for cid in case_ids:
            # a fixed fee shows once it is set and the case has not been invoiced yet
            uninvoiced = not [i for i in uow.invoices.for_case(cid) if i.case_id == cid]
            fee = uow.case_fees.get(cid)
            charge = uninvoiced and fee is not None
            cases.update(self._case_billing(uow, contract, [cid], charge_fees=charge))
        carried = 0
        if isinstance(contract.terms, RetainerTerms):
            carried = self._carried_in(uow, contract, BillingPeriod.containing(self.today()))
        return work_in_progress(
            contract, entries, cases=cases, carried_in_minutes=carried, case_id=case_id
        )
