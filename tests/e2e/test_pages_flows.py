"""The portal's pages doing their jobs, through HTTP and without JavaScript: a request with a
file and its case number, replies and internal notes, time and status, onboarding a client,
invoices from draft to pay link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from portal_core.billing.contract import Grouping, HourlyTerms, TaxRule
from portal_core.billing.periods import BillingPeriod
from portal_core.billing.service import LogTime, SetContract
from portal_core.cases.model import CaseStatus
from portal_core.identity.events import PasswordResetRequested
from tests.e2e.test_pages_access import Firm, build_firm, count_cases, csrf, signed_in

PDF = b"%PDF-1.7\n" + b"engagement letter " * 100


@pytest.fixture
def firm(tmp_path: Path) -> Firm:
    # Files on local disk, so the download links the pages show can be followed.
    return build_firm(tmp_path, local_files=True)


@pytest.fixture
def alice(firm: Firm) -> Iterator[TestClient[Litestar]]:
    with signed_in(firm, "alice") as client:
        yield client


@pytest.fixture
def sam(firm: Firm) -> Iterator[TestClient[Litestar]]:
    with signed_in(firm, "sam") as client:
        yield client


def submit(client: TestClient[Litestar], files: list[tuple[str, bytes, str]], **fields: str) -> Any:
    return client.post(
        "/cases/new",
        data={
            "subject": "Engagement letter",
            "description": "Please check it.",
            **fields,
            "_csrf_token": csrf(client),
        },
        files=[("files", file) for file in files],
        follow_redirects=False,
    )


def test_a_client_submits_a_request_with_a_file_and_sees_its_case_number(
    firm: Firm, alice: TestClient[Litestar]
) -> None:
    response = submit(alice, [("letter.pdf", PDF, "application/pdf")], priority="high")

    assert response.status_code == 303
    confirmation = alice.get(response.headers["location"])
    number = re.search(r'id="case-number">(C-\d{6})<', confirmation.text)
    assert number is not None
    case_id = response.headers["location"].split("/")[2]
    case = firm.container.cases.get_case(firm.users["alice"].as_principal(), case_id)
    assert case.case.reference == number.group(1)
    assert case.case.priority.value == "high"
    assert [a.display_name for a in case.attachments] == ["letter.pdf"]

    page = alice.get(f"/cases/{case_id}")
    link = re.search(r'href="(/cases/[^"]+/files/[^"]+)" download>letter.pdf<', page.text)
    assert link is not None
    fresh = alice.get(link.group(1), follow_redirects=False)
    assert fresh.status_code == 303
    download = alice.get(fresh.headers["location"].removeprefix("http://127.0.0.1:8000"))
    assert download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment")


def test_a_refused_file_is_explained_on_the_form_and_no_case_is_made(
    firm: Firm, alice: TestClient[Litestar]
) -> None:
    before = count_cases(firm, "alice")

    response = submit(
        alice, [("invoice.pdf", b"<html><script>x</script></html>", "application/pdf")]
    )

    assert response.status_code == 422
    assert 'class="error-summary"' in response.text
    assert 'value="Engagement letter"' in response.text, "what was typed is kept"
    assert count_cases(firm, "alice") == before


def test_a_form_with_missing_fields_names_each_field(alice: TestClient[Litestar]) -> None:
    response = alice.post(
        "/cases/new", data={"subject": "", "description": "", "_csrf_token": csrf(alice)}
    )

    assert response.status_code == 422
    assert 'aria-describedby="subject-error"' in response.text
    assert 'href="#subject"' in response.text
    assert 'aria-describedby="description-hint description-error"' in response.text


def test_staff_reply_note_log_time_and_resolve_and_the_client_sees_only_the_public_part(
    firm: Firm, alice: TestClient[Litestar], sam: TestClient[Litestar]
) -> None:
    case_id = firm.cases["alice"]
    staff = firm.users["sam"].as_principal()
    firm.container.billing.set_contract(
        firm.users["ada"].as_principal(),
        SetContract(
            organisation_id="acme",
            terms=HourlyTerms(),
            currency="EUR",
            rates={"Senior": Decimal("180.00")},
            tax=TaxRule(rate_percent=Decimal(20)),
            grouping=Grouping.MONTHLY,
        ),
    )
    token = csrf(sam)
    posts = [
        (f"/staff/cases/{case_id}/comments", {"body": "We are on it.", "visibility": "public"}),
        (f"/staff/cases/{case_id}/comments", {"body": "Check clause 7.", "visibility": "internal"}),
        (
            f"/staff/cases/{case_id}/time",
            {
                "role": "Senior",
                "work_date": "2026-01-05",
                "minutes": "90",
                "description": "Review",
                "billable": "yes",
            },
        ),
        (f"/staff/cases/{case_id}/assignment", {"assignee": "me"}),
        (f"/staff/cases/{case_id}/status", {"status": "resolved"}),
    ]
    for path, data in posts:
        response = sam.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303, (path, response.text)

    detail = firm.container.cases.get_case(staff, case_id)
    assert detail.case.status is CaseStatus.RESOLVED
    assert detail.case.assignee_id == "user-sam"
    assert firm.container.billing.case_work_in_progress(staff, case_id).raw_minutes == 90
    staff_page = sam.get(f"/staff/cases/{case_id}").text
    assert "Check clause 7." in staff_page
    client_page = alice.get(f"/cases/{case_id}").text
    assert "We are on it." in client_page
    assert "Check clause 7." not in client_page
    assert "Close this case" in client_page
    assert "1.5 hours recorded on your matters" in alice.get("/dashboard").text

    closed = alice.post(
        f"/cases/{case_id}/status", data={"status": "closed", "_csrf_token": csrf(alice)}
    )
    assert closed.status_code == 200
    assert "The status was changed." in closed.text


def test_a_move_the_client_may_not_make_is_explained_and_changes_nothing(
    firm: Firm, alice: TestClient[Litestar]
) -> None:
    case_id = firm.cases["alice"]

    response = alice.post(
        f"/cases/{case_id}/status", data={"status": "resolved", "_csrf_token": csrf(alice)}
    )

    assert response.status_code == 409
    assert 'id="error-summary"' in response.text
    detail = firm.container.cases.get_case(firm.users["alice"].as_principal(), case_id)
    assert detail.case.status is CaseStatus.NEW


def test_staff_queue_lists_every_clients_open_cases_and_filters_them(
    firm: Firm, sam: TestClient[Litestar]
) -> None:
    everything = sam.get("/staff/queue").text
    mine = sam.get("/staff/queue?assignee=me").text
    by_text = sam.get("/staff/queue?q=Gina").text

    assert "Alice&#39;s contract review" in everything
    assert "Gina&#39;s contract review" in everything
    assert "Acme Ltd" in everything
    assert "0 cases." in mine
    assert "Gina&#39;s contract review" in by_text
    assert "Alice&#39;s contract review" not in by_text


def test_an_administrator_onboards_a_client_whose_invited_contact_then_signs_in(
    firm: Firm,
) -> None:
    admin = firm.users["ada"].as_principal()
    with signed_in(firm, "ada") as ada:
        token = csrf(ada)
        added = ada.post(
            "/admin/organisations",
            data={"name": "Initech GmbH", "account": "", "_csrf_token": token},
            follow_redirects=False,
        )
        organisation_path = added.headers["location"].split("?")[0]
        invited = ada.post(
            f"{organisation_path}/contacts",
            data={
                "name": "Peter Gibbons",
                "email": "peter@initech.example",
                "roles": ["client_admin", "billing_contact"],
                "_csrf_token": token,
            },
            follow_redirects=False,
        )
        assert invited.status_code == 303
        assert "peter@initech.example" in ada.get(organisation_path).text

    organisation_id = organisation_path.rsplit("/", 1)[1]
    (peter,) = firm.container.onboarding.list_contacts(admin, organisation_id)
    link = firm.container.onboarding.resend_invitation(admin, peter.id).link
    assert link is not None
    invitation = "/invitation/" + link.rsplit("/", 1)[1]
    with TestClient(firm.app(), base_url="http://testserver.local") as browser:
        assert browser.get(invitation).status_code == 200
        weak = browser.post(
            invitation,
            data={"password": "short", "confirmation": "short", "_csrf_token": csrf(browser)},
        )
        assert weak.status_code == 422
        accepted = browser.post(
            invitation,
            data={
                "password": "staple-orbit-meadow-91",
                "confirmation": "staple-orbit-meadow-91",
                "_csrf_token": csrf(browser),
            },
            follow_redirects=False,
        )
        assert accepted.headers["location"] == "/sign-in?done=password"
        signed = browser.post(
            "/sign-in",
            data={
                "email": "peter@initech.example",
                "password": "staple-orbit-meadow-91",
                "_csrf_token": csrf(browser),
            },
            follow_redirects=False,
        )
        assert signed.status_code == 303
        assert browser.get("/cases/new").status_code == 200
        # The link is spent.
        again = browser.post(
            invitation,
            data={
                "password": "another-long-passphrase-1",
                "confirmation": "another-long-passphrase-1",
                "_csrf_token": csrf(browser),
            },
        )
        assert again.status_code == 400
        assert "This link does not work any more" in again.text


def test_an_issued_invoice_is_listed_with_its_pdf_and_its_pay_link(
    firm: Firm, alice: TestClient[Litestar], sam: TestClient[Litestar]
) -> None:
    invoice_id = issued_invoice(firm)

    listing = alice.get("/invoices").text
    page = alice.get(f"/invoices/{invoice_id}").text
    paying = alice.post(
        f"/invoices/{invoice_id}/pay-link",
        data={"_csrf_token": csrf(alice)},
        follow_redirects=False,
    )

    assert f'href="/invoices/{invoice_id}"' in listing
    assert f'href="/api/v1/invoices/{invoice_id}/pdf"' in page
    assert "EUR 540.00" in page  # 90 minutes at 300.00, plus 20% tax
    assert paying.status_code == 303
    assert paying.headers["location"].startswith(f"http://127.0.0.1:8000/invoices/{invoice_id}/pay")
    transfer = alice.get(f"/invoices/{invoice_id}/pay")
    assert "EUR 540.00" in transfer.text
    assert "open-invoices" not in transfer.text
    assert "Invoice " in alice.get("/dashboard").text
    with signed_in(firm, "gina") as gina:
        assert gina.get(f"/invoices/{invoice_id}").status_code == 404


def issued_invoice(firm: Firm) -> str:
    """December's invoice for Acme: 90 minutes of senior time, issued."""
    staff = firm.users["sam"].as_principal()
    firm.container.billing.set_contract(
        firm.users["ada"].as_principal(),
        SetContract(
            organisation_id="acme",
            terms=HourlyTerms(),
            currency="EUR",
            rates={"Senior": Decimal("300.00")},
            tax=TaxRule(rate_percent=Decimal(20)),
            grouping=Grouping.MONTHLY,
        ),
    )
    firm.container.billing.log_time(
        staff,
        LogTime(
            case_id=firm.cases["alice"],
            role="Senior",
            work_date=date(2025, 12, 10),
            minutes=90,
            description="Review",
        ),
    )
    draft = firm.container.billing.run_month(staff, "acme", BillingPeriod(2025, 12))
    assert draft is not None
    issued = firm.container.billing.issue(staff, draft.id)
    firm.container.invoice_pdfs.render_and_store(staff, issued.id)
    return issued.id


def test_a_forgotten_password_is_reset_through_the_e_mailed_link(firm: Firm) -> None:
    links: list[str] = []
    firm.container.dispatcher.subscribe(
        PasswordResetRequested, lambda event: links.append(event.link)
    )
    with TestClient(firm.app(), base_url="http://testserver.local") as browser:
        known = browser.post(
            "/password-reset", data={"email": "alice@acme.example", "_csrf_token": csrf(browser)}
        )
        unknown = browser.post(
            "/password-reset", data={"email": "nobody@acme.example", "_csrf_token": csrf(browser)}
        )
        assert known.text == unknown.text, "the answer does not tell which addresses exist"
        (link,) = links
        reset_path = "/password-reset/" + link.rsplit("/", 1)[1]
        new_password = "quartz-meadow-lantern-58"
        done = browser.post(
            reset_path,
            data={
                "password": new_password,
                "confirmation": new_password,
                "_csrf_token": csrf(browser),
            },
            follow_redirects=False,
        )
        signed = browser.post(
            "/sign-in",
            data={
                "email": "alice@acme.example",
                "password": new_password,
                "_csrf_token": csrf(browser),
            },
            follow_redirects=False,
        )

    assert done.headers["location"] == "/sign-in?done=password"
    assert signed.status_code == 303


def test_staff_review_a_draft_issue_it_and_credit_part_of_a_line(
    firm: Firm, sam: TestClient[Litestar]
) -> None:
    staff = firm.users["sam"].as_principal()
    invoice_id = issued_invoice(firm)
    draft_id = december_draft_for_globex(firm)
    token = csrf(sam)

    review = sam.get("/staff/invoices").text
    recomputed = sam.post(f"/staff/invoices/{draft_id}/recompute", data={"_csrf_token": token})
    issued = sam.post(f"/staff/invoices/{draft_id}/issue", data={"_csrf_token": token})
    no_reason = sam.post(
        f"/staff/invoices/{invoice_id}/credit",
        data={"reason": "", "line": "1", "amount": "50.00", "_csrf_token": token},
    )
    credited = sam.post(
        f"/staff/invoices/{invoice_id}/credit",
        data={"reason": "Goodwill", "line": "1", "amount": "50.00", "_csrf_token": token},
    )

    assert f'href="/invoices/{draft_id}"' in review
    assert "The draft was recomputed" in recomputed.text
    assert "The invoice was issued." in issued.text
    assert not firm.container.billing.get_invoice(staff, draft_id).is_draft
    assert firm.container.billing.get_invoice(staff, draft_id).document_key is not None
    assert no_reason.status_code == 422
    assert "Say why the invoice is credited." in no_reason.text
    assert "The credit note was issued." in credited.text
    (note,) = firm.container.billing.credit_notes(staff, invoice_id)
    assert str(note.net.amount) == "50.00"


def december_draft_for_globex(firm: Firm) -> str:
    staff = firm.users["sam"].as_principal()
    firm.container.billing.set_contract(
        firm.users["ada"].as_principal(),
        SetContract(
            organisation_id="globex",
            terms=HourlyTerms(),
            currency="EUR",
            rates={"Partner": Decimal("400.00")},
            tax=TaxRule(rate_percent=Decimal(20)),
            grouping=Grouping.MONTHLY,
        ),
    )
    firm.container.billing.log_time(
        staff,
        LogTime(
            case_id=firm.cases["gina"],
            role="Partner",
            work_date=date(2025, 12, 3),
            minutes=60,
            description="Advice",
        ),
    )
    draft = firm.container.billing.run_month(staff, "globex", BillingPeriod(2025, 12))
    assert draft is not None
    return draft.id


def test_signed_in_pages_carry_the_live_update_markers(
    firm: Firm, alice: TestClient[Litestar]
) -> None:
    case_id = firm.cases["alice"]
    case_page = alice.get(f"/cases/{case_id}").text
    dashboard = alice.get("/dashboard").text

    assert f'data-live-case="{case_id}"' in case_page
    assert 'data-live-field="status"' in case_page
    assert f'data-live-timeline="{case_id}"' in case_page
    assert "data-live-recent" in dashboard
    for page in (case_page, dashboard):
        assert '<script src="/static/live.js" defer></script>' in page
        assert 'id="live-announcer"' in page
        assert 'aria-live="polite"' in page
    with TestClient(firm.app(), base_url="http://testserver.local") as visitor:
        assert "/static/live.js" not in visitor.get("/sign-in").text
