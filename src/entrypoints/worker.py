"""The worker: delivers the outbox and runs the schedules, in a loop until told to stop.

One round (`Worker.run_once`):
- the outbox relay delivers every due message to all its handlers (merged): the case system's
  write-back (Salesforce, or the portal's own database), the per-case invoice draft when a case
  is resolved, invoice and credit-note PDFs, e-mails (each recipient once, preferences read at
  delivery) and payment receipts, refunds and reminders;
- once per firm-local day: payment reminders (`ReminderService.run`), and the monthly billing
  run for the month before (`BillingService.run_month_for_all`), which bills each month once
  however often it runs, so a worker that was down on the 1st catches up the next day.

Any number of workers may run at once against PostgreSQL: the relay claims messages with a
lease, and the schedules are idempotent. `portal worker` runs it as its own process (live
updates then reach pages through `PORTAL_LIVE_BACKEND=postgres|redis`); the embedded
`portal serve` runs it in a thread (`PORTAL_RUN_WORKER_IN_PROCESS`).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TypedDict

from attrs import frozen

from entrypoints.bootstrap import Container
from portal_core.billing.events import CreditNoteIssued, InvoiceIssued
from portal_core.billing.periods import BillingPeriod, firm_zone, local_date
from portal_core.cases.model import CaseStatusChanged
from portal_core.delivery import DeliveryHandler, DeliveryReport, OutboxRelay, merge_handlers
from portal_core.errors import DomainError, InvalidTransition
from portal_core.events import DomainEvent
from portal_core.idempotency import IdempotentRequests
from portal_core.notifications import EmailNotices, OnceOnlyNotifier, PreferenceRespectingNotifier
from portal_core.notifications.messages import Site
from portal_core.organisations.model import Principal
from portal_core.payments.notices import PaymentNotices
from portal_core.sync.outbound import (
    CaseDetailsUpdates,
    CaseFileReferences,
    CaseSystemWriter,
    FileLink,
)

log = logging.getLogger(__name__)

WORKER_ACTOR = "worker"


@frozen(kw_only=True)
class RoundReport:
    delivery: DeliveryReport
    reminders_sent: int | None = None
    """None: the reminders had run today already."""
    invoices_drafted: int | None = None
    """None: the monthly run had run today already."""
    idempotency_keys_expired: int | None = None
    """Stored API responses past their 24 hours, deleted; None: not today's first round."""


def delivery_handlers(container: Container) -> dict[type[DomainEvent], tuple[DeliveryHandler, ...]]:
    """Every handler of the outbox, merged: write-back first, then billing, then e-mails."""
    once = OnceOnlyNotifier(container.notifier, uow=container.uow, clock=container.clock)
    preferences = container.preference_store
    writer = CaseSystemWriter(
        uow=container.uow,
        case_system=container.case_system,
        clock=container.clock,
        ids=container.ids,
        dispatcher=container.dispatcher,
        **_salesforce_extras(container),
    )
    registries: list[Mapping[type[DomainEvent], DeliveryHandler]] = [
        writer.handlers(),
        {CaseStatusChanged: _invoice_drafting(container)},
        _documents(container),
        EmailNotices(
            uow=container.uow,
            notifier=once,
            preferences=preferences,
            site=Site(base_url=container.settings.base_url, firm_name=container.settings.firm_name),
        ).handlers(),
        PaymentNotices(
            uow=container.uow,
            notifier=PreferenceRespectingNotifier(once, uow=container.uow, preferences=preferences),
        ).handlers(),
    ]
    return merge_handlers(*registries)


class _WriterExtras(TypedDict, total=False):
    details: CaseDetailsUpdates
    file_references: CaseFileReferences
    file_link: FileLink


def _salesforce_extras(container: Container) -> _WriterExtras:
    """What Salesforce takes besides cases, statuses and comments: details, and file references
    when its mapping names an object for them (a link to the portal's download, never bytes)."""
    salesforce = container.salesforce
    if salesforce is None or container.case_system is not salesforce.case_system:
        return {}
    case_system = salesforce.case_system
    extras = _WriterExtras(details=case_system)
    if case_system.mapping.file_references is not None:
        base_url = container.settings.base_url

        def file_link(case_id: str, attachment_id: str) -> str:
            return f"{base_url}/cases/{case_id}/files/{attachment_id}"

        extras["file_references"] = case_system
        extras["file_link"] = file_link
    return extras


def _invoice_drafting(container: Container) -> DeliveryHandler:
    """A case resolved under a per-case contract gets its draft invoice."""

    def draft(event: CaseStatusChanged) -> None:
        try:
            container.billing.on_case_status_changed(event)
        except DomainError as refused:  # no contract rate for a role, say: staff must look
            log.warning("no invoice drafted for case %s: %s", event.case_id, refused.message)

    return draft


def _documents(container: Container) -> Mapping[type[DomainEvent], DeliveryHandler]:
    """Invoice and credit-note PDFs for invoices issued without the API (auto-issue)."""
    pdfs = container.invoice_pdfs
    system = Principal.system(WORKER_ACTOR)

    def invoice(event: InvoiceIssued) -> None:
        try:
            pdfs.render_and_store(system, event.invoice_id)
        except InvalidTransition:  # the API or a download recorded it meanwhile
            log.info("invoice %s has its PDF already", event.invoice_id)

    def credit_note(event: CreditNoteIssued) -> None:
        try:
            pdfs.render_and_store_credit_note(system, event.credit_note_id)
        except InvalidTransition:
            log.info("credit note %s has its PDF already", event.credit_note_id)

    return {InvoiceIssued: invoice, CreditNoteIssued: credit_note}


class Worker:
    def __init__(
        self,
        container: Container,
        *,
        draw: Callable[[], float] = random.random,
        batch_size: int = 50,
    ) -> None:
        self._container = container
        self.relay = OutboxRelay(
            uow=container.uow,
            clock=container.clock,
            handlers=delivery_handlers(container),
            batch_size=batch_size,
            draw=draw,
        )
        self._zone = firm_zone(container.settings.firm_time_zone.key)
        self._last_day: date | None = None

    def today(self) -> date:
        return local_date(self._container.clock.now(), self._zone)

    def run_once(self) -> RoundReport:
        """Deliver what is due, then the day's schedules if this day has not had them yet."""
        delivery = self.deliver()
        today = self.today()
        if today == self._last_day:
            return RoundReport(delivery=delivery)
        reminders = self.send_reminders(today)
        drafted = self.run_last_month(today)
        expired = IdempotentRequests(uow=self._container.uow, clock=self._container.clock)
        forgotten = expired.delete_expired()
        self._last_day = today
        # What the schedules queued (reminders, drafts) goes out in this round, not the next.
        more = self.deliver()
        return RoundReport(
            delivery=_sum(delivery, more),
            reminders_sent=reminders,
            invoices_drafted=drafted,
            idempotency_keys_expired=forgotten,
        )

    def deliver(self) -> DeliveryReport:
        """Deliver batches until nothing is due (or a batch only failed)."""
        reports: list[DeliveryReport] = []
        while True:
            report = self.relay.run_once()
            reports.append(report)
            if report.claimed == 0 or report.delivered == 0:
                return _sum(*reports)

    def send_reminders(self, today: date) -> int:
        return len(self._container.reminders.run(today))

    def run_last_month(self, today: date) -> int:
        period = BillingPeriod.containing(today).previous()
        run = self._container.billing.run_month_for_all(Principal.system(WORKER_ACTOR), period)
        for organisation_id, reason in run.refused:
            log.warning("monthly run %s refused for %s: %s", period.key, organisation_id, reason)
        return len(run.invoices)

    def run_forever(self, stop: threading.Event) -> None:
        """Rounds until `stop` is set; waits `PORTAL_WORKER_INTERVAL_SECONDS` when idle."""
        interval = self._container.settings.worker_interval_seconds
        log.info("worker started (every %d s when idle)", interval)
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:  # the database is away, say: log, wait, try again
                log.exception("worker round failed; trying again in %d s", interval)
                stop.wait(interval)
                continue
            if report.delivery.claimed == 0 or report.delivery.failed:
                stop.wait(interval)
        log.info("worker stopped")


def _sum(*reports: DeliveryReport) -> DeliveryReport:
    failures: Sequence[str] = tuple(f for r in reports for f in r.failures)
    return DeliveryReport(
        claimed=sum(r.claimed for r in reports),
        delivered=sum(r.delivered for r in reports),
        failed=sum(r.failed for r in reports),
        failures=tuple(failures),
    )


def start_in_background(container: Container) -> Callable[[], None]:
    """Run the worker in a daemon thread; returns the function that stops it and waits."""
    stop = threading.Event()
    worker = Worker(container)
    thread = threading.Thread(
        target=worker.run_forever, args=(stop,), name="portal-worker", daemon=True
    )
    thread.start()

    def stop_and_wait() -> None:
        stop.set()
        thread.join(timeout=60)

    return stop_and_wait
