"""Billing benchmark: compute and render invoices, and the monthly run. Prints its figures.

    .venv/bin/python bench/billing_invoices.py                 # everything, on SQLite
    .venv/bin/python bench/billing_invoices.py --storage memory
    .venv/bin/python bench/billing_invoices.py --organisations 100 --skip-render-all

Targets on our 2-core machine: compute + render of a 20-entry invoice under 50 ms (median), of
a 500-entry invoice under 500 ms, and the monthly run over 1,000 organisations with 50 entries
each under 60 s on the embedded default (SQLite). Not a test: it asserts only that the work was
really done (every invoice drafted, every PDF adding up), never a timing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import fpdf

from adapters.memory.clock import FixedClock, SequentialIds
from adapters.memory.store import InMemoryStorage
from adapters.pdf import Fpdf2InvoiceRenderer
from portal_core.billing.compute import CaseBilling, compute_invoice
from portal_core.billing.contract import Contract, Grouping, HourlyTerms, TaxRule
from portal_core.billing.document import Party, invoice_document
from portal_core.billing.invoice import Invoice
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.rounding import RoundingRule, TimeRoundingMode
from portal_core.billing.service import BillingService
from portal_core.billing.time_entries import TimeEntry
from portal_core.cases.model import Case, Priority
from portal_core.dispatch import EventDispatcher
from portal_core.organisations.model import Organisation, Principal, Role

PERIOD = BillingPeriod(2026, 10)
RUN_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STAFF = {
    "staff-1": "Σωκράτης Παπαδόπουλος",
    "staff-2": "Анна Каренина",
    "staff-3": "Zoë Łukasiewicz-Ørsted",
    "staff-4": "Jean-François Müller",
}
ROLES = ("Senior", "Associate")
FIRM = Party(
    name="Λέσχη & Partners LLP",
    address_lines=("12 Fleet Street", "London EC4Y 1AA", "United Kingdom"),
    tax_id="GB123456789",
    email="billing@lesche.example",
)
STAFF_PRINCIPAL = Principal(user_id="staff-1", organisation_id=None, roles={Role.STAFF})
ENTRIES_PER_CASE = 10


def contract_for(organisation_id: str) -> Contract:
    return Contract(
        id=f"contract-{organisation_id}",
        organisation_id=organisation_id,
        terms=HourlyTerms(),
        currency="EUR",
        rates={"Senior": Decimal("180.00"), "Associate": Decimal("95.50")},
        tax=TaxRule(rate_percent=Decimal(20)),
        discount_percent=Decimal(5),
        grouping=Grouping.MONTHLY,
        rounding=RoundingRule(increment=6, mode=TimeRoundingMode.UP),
        created_at=RUN_AT - timedelta(days=90),
    )


def entries_for(organisation_id: str, count: int) -> list[TimeEntry]:
    staff = sorted(STAFF)
    return [
        TimeEntry(
            id=f"{organisation_id}-t{index:04d}",
            organisation_id=organisation_id,
            case_id=f"{organisation_id}-c{index // ENTRIES_PER_CASE:03d}",
            staff_id=staff[index % len(staff)],
            role=ROLES[index % len(ROLES)],
            work_date=PERIOD.first_day + timedelta(days=index % PERIOD.days),
            minutes=7 + (index * 37) % 233,
            description=f"Drafting and review, item {index + 1}",
            billable=index % 25 != 24,
            logged_at=RUN_AT - timedelta(days=5),
        )
        for index in range(count)
    ]


def client_party(organisation_id: str) -> Party:
    return Party(
        name=f"ООО «Клиент {organisation_id}»",
        address_lines=("ул. Тверская, 7", "125009 Москва"),
        tax_id="RU7701234567",
    )


# --- part 1: compute and render one invoice ---------------------------------------------------


def compute_and_render(
    renderer: Fpdf2InvoiceRenderer, entries: Sequence[TimeEntry]
) -> tuple[float, float, float, bytes]:
    """Seconds to compute and issue, seconds to map and render, CPU seconds, and the PDF."""
    organisation_id = entries[0].organisation_id
    contract = contract_for(organisation_id)
    cases = {
        case_id: CaseBilling(case_id=case_id, label=f"C-{case_id[-3:]} Share purchase")
        for case_id in sorted({entry.case_id for entry in entries})
    }
    cpu_started = time.process_time()
    started = time.perf_counter()
    calculation = compute_invoice(contract, entries, cases=cases, period=PERIOD)
    invoice = Invoice.draft(
        invoice_id="inv-1",
        organisation_id=organisation_id,
        contract_id=contract.id,
        calculation=calculation,
        at=RUN_AT,
        period=PERIOD,
    ).issued(number="INV-2026-0001", at=RUN_AT, issue_date=RUN_AT.date(), terms_days=30)
    computed = time.perf_counter()
    document = invoice_document(
        invoice, firm=FIRM, client=client_party(organisation_id), staff_names=STAFF
    )
    pdf = renderer.render(document)
    hashlib.sha256(pdf).hexdigest()
    rendered = time.perf_counter()
    return computed - started, rendered - computed, time.process_time() - cpu_started, pdf


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def single_invoices(repeat: int) -> None:
    renderer = Fpdf2InvoiceRenderer()
    print("Compute + render one invoice (compute_invoice, issue, invoice_document, fpdf2, SHA-256)")
    for count, target_ms, runs in ((20, 50, repeat), (500, 500, max(5, repeat // 3))):
        entries = entries_for("org-bench", count)
        cold_compute, cold_render, _, pdf = compute_and_render(renderer, entries)
        computes, renders, totals, cpus = [], [], [], []
        for _ in range(runs):
            compute_s, render_s, cpu_s, again = compute_and_render(renderer, entries)
            assert again == pdf, "the same invoice must give the same bytes"
            computes.append(compute_s)
            renders.append(render_s)
            totals.append(compute_s + render_s)
            cpus.append(cpu_s)
        median_ms = statistics.median(totals) * 1000
        print(
            f"  {count:>3} entries ({pdf.count(b'/Type /Page') - pdf.count(b'/Type /Pages')} "
            f"pages, {len(pdf) / 1024:.0f} KiB), {runs} runs: "
            f"median {median_ms:.1f} ms, p95 {percentile(totals, 0.95) * 1000:.1f} ms "
            f"(compute {statistics.median(computes) * 1000:.1f} ms + render "
            f"{statistics.median(renders) * 1000:.1f} ms; CPU median "
            f"{statistics.median(cpus) * 1000:.1f} ms); first in this process "
            f"{(cold_compute + cold_render) * 1000:.1f} ms; target < {target_ms} ms: "
            f"{'met' if median_ms < target_ms else 'MISSED'}"
        )


# --- part 2: the monthly run ------------------------------------------------------------------


@contextmanager
def storage_for(kind: str) -> Iterator[tuple[Callable[[], Any], str]]:
    if kind == "memory":
        yield InMemoryStorage().unit_of_work, "in-memory storage"
        return
    from adapters.sql import SqlStorage  # noqa: PLC0415 - only the SQLite run needs SQLAlchemy

    with tempfile.TemporaryDirectory(prefix="portal-bench-") as directory:
        path = Path(directory) / "portal.db"
        storage = SqlStorage.from_url(f"sqlite:///{path}")
        storage.upgrade()
        try:
            yield storage.unit_of_work, f"SQLite (WAL) at {path}"
        finally:
            storage.engine.dispose()


def seed(uow_factory: Callable[[], Any], organisations: int, entries: int) -> None:
    ids = SequentialIds("case-event")
    for start in range(0, organisations, 100):
        with uow_factory() as uow:
            for number in range(start, min(start + 100, organisations)):
                organisation_id = f"org-{number:05d}"
                uow.organisations.add(
                    Organisation(
                        id=organisation_id,
                        name=f"Клиент {number}",
                        created_at=RUN_AT - timedelta(days=120),
                    )
                )
                uow.contracts.add(contract_for(organisation_id))
                made = entries_for(organisation_id, entries)
                for case_id in sorted({entry.case_id for entry in made}):
                    case, event = Case.submit(
                        case_id=case_id,
                        organisation_id=organisation_id,
                        reference=f"P-{case_id}",
                        subject="Share purchase",
                        description="Acquisition of a minority stake.",
                        priority=Priority.NORMAL,
                        submitted_by="staff-1",
                        event_id=ids.new_id(),
                        at=RUN_AT - timedelta(days=60),
                    )
                    uow.cases.add(case)
                    uow.history.append(event)
                for entry in made:
                    uow.time_entries.add(entry)
            uow.commit()


def monthly_run(storage: str, organisations: int, entries: int, render_all: bool) -> None:
    with storage_for(storage) as (uow_factory, described):
        print(
            f"Monthly run: {organisations:,} organisations x {entries} entries, hourly, "
            f"on {described}"
        )
        started = time.perf_counter()
        seed(uow_factory, organisations, entries)
        print(f"  seeding (not timed against the target): {time.perf_counter() - started:.1f} s")
        service = BillingService(
            uow=uow_factory,
            clock=FixedClock(RUN_AT),
            ids=SequentialIds("bench"),
            dispatcher=EventDispatcher(),
        )
        started = time.perf_counter()
        run = service.run_month_for_all(STAFF_PRINCIPAL, PERIOD)
        run_s = time.perf_counter() - started
        drafted = run.invoices
        assert not run.refused, run.refused[:3]
        assert len(drafted) == organisations, f"{len(drafted)} invoices for {organisations}"
        gross = sum((invoice.gross.amount for invoice in drafted), Decimal(0))
        print(
            f"  run_month_for_all: {len(drafted):,} draft invoices, {gross:,} EUR in all, "
            f"{run_s:.1f} s ({run_s / organisations * 1000:.1f} ms per organisation); "
            f"target < 60 s: {'met' if run_s < 60 else 'MISSED'}"
        )
        started = time.perf_counter()
        again = service.run_month_for_all(STAFF_PRINCIPAL, PERIOD)
        assert [i.id for i in again.invoices] == [i.id for i in drafted]
        print(f"  the same month again (changes nothing): {time.perf_counter() - started:.1f} s")
        if render_all:
            issue_and_render_all(service, drafted)


def issue_and_render_all(service: BillingService, drafted: Sequence[Invoice]) -> None:
    renderer = Fpdf2InvoiceRenderer()
    started = time.perf_counter()
    rendering = 0.0
    pages = 0
    for draft in drafted:
        invoice = service.issue(STAFF_PRINCIPAL, draft.id)
        assert invoice.number is not None
        before = time.perf_counter()
        pdf = renderer.render(
            invoice_document(
                invoice,
                firm=FIRM,
                client=client_party(invoice.organisation_id),
                staff_names=STAFF,
            )
        )
        rendering += time.perf_counter() - before
        pages += pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        service.record_invoice_document(
            STAFF_PRINCIPAL,
            invoice.id,
            key=f"invoices/{invoice.number}.pdf",
            sha256=hashlib.sha256(pdf).hexdigest(),
        )
    total_s = time.perf_counter() - started
    print(
        f"  then issuing, rendering and recording all {len(drafted):,} ({pages:,} pages): "
        f"{total_s:.1f} s, of which rendering {rendering:.1f} s "
        f"({rendering / len(drafted) * 1000:.1f} ms per invoice)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--organisations", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=30, help="runs of the 20-entry invoice")
    parser.add_argument("--skip-render-all", action="store_true")
    parser.add_argument("--skip-monthly", action="store_true")
    args = parser.parse_args(argv)
    print(
        f"Python {sys.version.split()[0]}, fpdf2 {fpdf.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    single_invoices(args.repeat)
    if not args.skip_monthly:
        monthly_run(args.storage, args.organisations, args.entries, not args.skip_render_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
