"""Time, work in progress, invoices with their PDFs, credit notes, the monthly run, pay links
and receivables through the API; money travels as strings with its currency."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from adapters.memory import FixedClock
from tests.e2e.api_support import API, World, build_world, problem


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def test_staff_log_correct_and_delete_time_and_see_it_in_work_in_progress(world: World) -> None:
    sam = world.bearer(world.staff)
    case_id = world.acme.case_id
    with world.client() as client:
        logged = client.post(
            f"{API}/cases/{case_id}/time-entries",
            json={
                "role": "Senior",
                "work_date": "2026-01-03",
                "minutes": 90,
                "description": "Draft",
            },
            headers=sam,
        )
        assert logged.status_code == 201, logged.text
        entry = logged.json()
        assert (entry["staff_id"], entry["minutes"], entry["organisation_id"]) == (
            "sam",
            90,
            "acme",
        )
        edited = client.patch(
            f"{API}/time-entries/{entry['id']}",
            json={
                "expected_version": entry["version"],
                "role": "Senior",
                "work_date": "2026-01-03",
                "minutes": 120,
                "description": "Draft and review",
            },
            headers=sam,
        )
        assert edited.json()["minutes"] == 120
        listed = client.get(f"{API}/cases/{case_id}/time-entries", headers=sam).json()["items"]
        assert {e["id"] for e in listed} == {world.acme.entry_id, entry["id"]}
        wip = client.get(f"{API}/cases/{case_id}/work-in-progress", headers=sam).json()
        # 30 + 120 minutes at 180.00 an hour
        assert wip["amount"] == {"amount": "450.00", "currency": "EUR"}
        assert wip["raw_minutes"] == 150
        stale = client.delete(
            f"{API}/time-entries/{entry['id']}", params={"expected_version": 1}, headers=sam
        )
        assert stale.status_code == 409
        deleted = client.delete(
            f"{API}/time-entries/{entry['id']}", params={"expected_version": 2}, headers=sam
        )
        assert deleted.status_code == 204
        billing = world.bearer(world.acme.billing_contact)
        organisation = client.get(f"{API}/organisations/acme/work-in-progress", headers=billing)
        assert organisation.json()["amount"]["amount"] == "90.00"


def test_a_billing_contact_sees_issued_invoices_with_money_as_strings(world: World) -> None:
    bill = world.bearer(world.acme.billing_contact)
    with world.client() as client:
        listed = client.get(f"{API}/invoices", headers=bill).json()["items"]
        assert [i["id"] for i in listed] == [world.acme.invoice_id]
        invoice = client.get(f"{API}/invoices/{world.acme.invoice_id}", headers=bill).json()
    # 150 minutes at 180.00 = 450.00 net, 20% VAT
    assert invoice["net"] == {"amount": "450.00", "currency": "EUR"}
    assert invoice["tax"]["amount"] == "90.00"
    assert invoice["gross"]["amount"] == "540.00"
    assert invoice["amount_credited"]["amount"] == "12.00"
    assert invoice["balance_due"]["amount"] == "528.00"
    assert invoice["number"]
    assert invoice["issue_date"] == "2026-01-05"
    assert invoice["pdf_url"] == f"{API}/invoices/{world.acme.invoice_id}/pdf"
    assert invoice["lines"][0]["rate"] == {"amount": "180.00", "currency": "EUR"}


def test_the_pdf_is_the_issued_one_and_a_changed_file_is_refused(world: World) -> None:
    bill = world.bearer(world.acme.billing_contact)
    with world.container.uow() as work:
        stored = work.invoices.get(world.acme.invoice_id)
    assert stored is not None
    assert stored.document_key is not None
    with world.client() as client:
        response = client.get(f"{API}/invoices/{world.acme.invoice_id}/pdf", headers=bill)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"].startswith("attachment")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert hashlib.sha256(response.content).hexdigest() == stored.document_sha256
        text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
        assert stored.number is not None
        assert stored.number in text
        world.files.put(stored.document_key, b"%PDF-1.7 forged", "application/pdf")
        refused = client.get(f"{API}/invoices/{world.acme.invoice_id}/pdf", headers=bill)
        assert refused.status_code == 500
        assert problem(refused)["code"] == "document_tampered"
        assert b"forged" not in refused.content
        note = client.get(f"{API}/credit-notes/{world.acme.credit_note_id}/pdf", headers=bill)
        assert note.status_code == 200
        assert note.content.startswith(b"%PDF")


def test_staff_run_the_month_issue_it_and_the_pdf_is_printed_at_once(world: World) -> None:
    sam = world.bearer(world.staff)
    clock = world.container.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2026, 2, 2, 9, 0, tzinfo=UTC))
    with world.client() as client:
        early = client.post(
            f"{API}/organisations/acme/monthly-run", json={"period": "2026-02"}, headers=sam
        )
        assert early.status_code == 422
        run = client.post(
            f"{API}/organisations/acme/monthly-run", json={"period": "2026-01"}, headers=sam
        )
        assert run.status_code == 200, run.text
        draft = run.json()["invoice"]
        assert draft["status"] == "draft"
        assert draft["number"] is None
        assert draft["gross"]["amount"] == "108.00"  # 30 minutes at 180.00, 20% VAT
        hidden = client.get(
            f"{API}/invoices/{draft['id']}", headers=world.bearer(world.acme.billing_contact)
        )
        assert hidden.status_code == 404
        issued = client.post(f"{API}/invoices/{draft['id']}/issue", headers=sam)
        assert issued.status_code == 200, issued.text
        assert issued.json()["number"]
        again = client.post(f"{API}/invoices/{draft['id']}/issue", headers=sam)
        assert again.status_code == 409
    with world.container.uow() as work:
        printed = work.invoices.get(draft["id"])
    assert printed is not None
    assert printed.document_sha256 is not None


def test_staff_credit_part_of_an_invoice_never_more_than_it_charged(world: World) -> None:
    sam = world.bearer(world.staff)
    invoice_id = world.acme.invoice_id
    with world.client() as client:
        credited = client.post(
            f"{API}/invoices/{invoice_id}/credit-notes",
            json={"reason": "Rounding", "lines": [{"line_number": 1, "amount": "40.00"}]},
            headers=sam,
        )
        assert credited.status_code == 201, credited.text
        note = credited.json()
        assert (note["net"]["amount"], note["gross"]["amount"]) == ("40.00", "48.00")
        too_much = client.post(
            f"{API}/invoices/{invoice_id}/credit-notes",
            json={"reason": "More", "lines": [{"line_number": 1, "amount": "9000.00"}]},
            headers=sam,
        )
        assert too_much.status_code == 422
        not_money = client.post(
            f"{API}/invoices/{invoice_id}/credit-notes",
            json={"reason": "More", "lines": [{"line_number": 1, "amount": 1e3}]},
            headers=sam,
        )
        assert not_money.status_code == 400


def test_a_billing_contact_gets_a_pay_link_for_what_is_due(world: World) -> None:
    bill = world.bearer(world.acme.billing_contact)
    with world.client() as client:
        checkout = client.post(f"{API}/invoices/{world.acme.invoice_id}/checkout", headers=bill)
        assert checkout.status_code == 201, checkout.text
        assert checkout.json()["url"]
        viewer_of_cases = world.bearer(world.globex.client_admin)
        foreign = client.post(
            f"{API}/invoices/{world.acme.invoice_id}/checkout", headers=viewer_of_cases
        )
        assert foreign.status_code == 404


def test_staff_see_receivables_as_json_and_csv(world: World) -> None:
    sam = world.bearer(world.staff)
    with world.client() as client:
        report = client.get(f"{API}/receivables", params={"on": "2026-03-01"}, headers=sam).json()
        by_client = {row["organisation_id"]: row for row in report["by_client"]}
        assert by_client["acme"]["total"] == {"amount": "528.00", "currency": "EUR"}
        exported = client.get(f"{API}/receivables.csv", params={"on": "2026-03-01"}, headers=sam)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert any("528.00" in row for row in rows)
        refused = client.get(
            f"{API}/receivables.csv", headers=world.bearer(world.acme.billing_contact)
        )
        assert refused.status_code == 403


def test_receivables_for_the_calendars_earliest_days_are_an_answer_not_a_server_error(
    world: World,
) -> None:
    # Found by schemathesis: the default DSO period ran back past 0001-01-01 and overflowed.
    sam = world.bearer(world.staff)
    with world.client() as client:
        for params in ({"dso_end": "0001-01-05"}, {"on": "0001-01-01"}):
            answer = client.get(f"{API}/receivables.csv", params=params, headers=sam)
            assert answer.status_code == 200, (params, answer.text)
            assert answer.text.startswith("\ufeffclient,")
