"""The receivables CSV an accountant opens: one row per open invoice, and DSO for a period."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from portal_core.billing.service import IssueCreditNote
from portal_core.errors import PermissionDenied
from portal_core.payments.receivables_export import (
    DSO_COLUMNS,
    INVOICE_COLUMNS,
    ReceivablesExport,
    receivables_csv,
)
from tests.unit.payments.builders import PayWorld, make_pay_world, money, paid_event

DECEMBER_20TH = date(2026, 12, 20)


@pytest.fixture
def world() -> PayWorld:
    return make_pay_world()


def export(world: PayWorld) -> ReceivablesExport:
    return ReceivablesExport(uow=world.billing.storage.unit_of_work, clock=world.billing.clock)


def read(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with the byte order mark
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_each_open_invoice_is_a_row_with_exact_amounts_and_its_bucket(world: PayWorld) -> None:
    acme = world.issued_invoice(150, "acme")
    world.payments.handle_event(paid_event(acme.id, money("40.00")))
    world.issued_invoice(60, "globex")
    settled = world.issued_invoice(60, "acme")
    world.payments.handle_event(
        paid_event(settled.id, money("216.00"), event_id="e2", reference="pi_2")
    )
    text = export(world).csv(
        world.billing.staff,
        on=DECEMBER_20TH,
        dso_start=date(2026, 11, 1),
        dso_end=date(2026, 11, 30),
    )
    rows = read(text)
    case_numbers = {c.id: c.number for c in world.billing.storage.state.cases.values()}
    assert rows[0] == list(INVOICE_COLUMNS)
    assert rows[1] == [
        "Acme Ltd",
        "acme",
        case_numbers[acme.case_id or ""],
        "INV-2026-0001",
        "2026-11-02",
        "2026-12-02",
        "EUR",
        "540.00",
        "40.00",
        "0.00",
        "500.00",
        "18",
        "1-30",
    ]
    assert rows[2][:4] == ["Globex GmbH", "globex", rows[2][2], "INV-2026-0002"]
    assert rows[2][7:] == ["216.00", "0.00", "0.00", "216.00", "18", "1-30"]
    assert rows[3] == []
    assert rows[4] == list(DSO_COLUMNS)
    # receivables at 30 November: 500.00 + 216.00; invoiced in November: 972.00; 30 days
    assert rows[5] == ["2026-11-01", "2026-11-30", "EUR", "716.00", "972.00", "30", "22.1"]
    assert len(rows) == 6


def test_a_credit_note_lowers_what_is_open(world: PayWorld) -> None:
    invoice = world.issued_invoice()
    world.billing.billing.issue_credit_note(
        world.billing.staff, IssueCreditNote(invoice_id=invoice.id, reason="Void")
    )
    report = export(world).report(
        world.billing.staff, on=DECEMBER_20TH, dso_start=date(2026, 11, 1), dso_end=DECEMBER_20TH
    )
    assert report.rows == ()
    text = receivables_csv(report)
    assert read(text)[-1][-1] == ""  # nothing invoiced net of credit: no DSO figure


def test_amounts_keep_the_currencys_minor_units(world: PayWorld) -> None:
    world.issued_invoice(7, "acme", currency="JPY", rates={"Senior": money("10000", "JPY").amount})
    rows = read(
        export(world).csv(
            world.billing.staff,
            on=DECEMBER_20TH,
            dso_start=date(2026, 11, 1),
            dso_end=date(2026, 11, 30),
        )
    )
    assert rows[1][6:11] == ["JPY", "1400", "0", "0", "1400"]


def test_only_staff_export_receivables(world: PayWorld) -> None:
    with pytest.raises(PermissionDenied):
        export(world).csv(
            world.billing.acme_billing, dso_start=date(2026, 11, 1), dso_end=date(2026, 11, 30)
        )
