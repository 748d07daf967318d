"""Cases and files through the API: list, filter, page, submit with files, comment, status,
assign, download links and the case zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from portal_core.cases.files import incoming_key
from tests.e2e.api_support import API, PDF_BYTES, World, build_world, problem


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def test_a_client_uploads_a_file_and_submits_a_case_with_it(world: World) -> None:
    ann = world.bearer(world.acme.client_admin)
    with world.client() as client:
        ticket = client.post(
            f"{API}/uploads",
            json={"display_name": "../../payslips.pdf", "content_type": "application/pdf"},
            headers=ann,
        )
        assert ticket.status_code == 201, ticket.text
        grant = ticket.json()
        assert grant["display_name"] == "payslips.pdf"
        assert "acme" in grant["fields"]["key"]
        assert ".." not in grant["fields"]["key"]
        world.files.put(incoming_key("acme", grant["upload_id"]), PDF_BYTES, "application/pdf")
        confirmed = client.post(
            f"{API}/uploads/{grant['upload_id']}/confirm",
            json={"display_name": "payslips.pdf"},
            headers=ann,
        )
        assert confirmed.status_code == 200, confirmed.text
        submitted = client.post(
            f"{API}/cases",
            json={
                "subject": "Payroll for March",
                "description": "See the payslips.",
                "priority": "high",
                "files": [confirmed.json()],
            },
            headers=ann,
        )
        assert submitted.status_code == 201, submitted.text
        detail = submitted.json()
        assert detail["case"]["subject"] == "Payroll for March"
        assert detail["case"]["priority"] == "high"
        assert [a["display_name"] for a in detail["attachments"]] == ["payslips.pdf"]
        assert detail["timeline"][0]["text"].startswith("Request submitted")
        again = client.get(f"{API}/cases/{detail['case']['id']}", headers=ann)
        assert again.json() == detail


def test_an_unconfirmed_or_foreign_upload_never_reaches_a_case(world: World) -> None:
    ann = world.bearer(world.acme.client_admin)
    with world.client() as client:
        unconfirmed = client.post(
            f"{API}/cases",
            json={
                "subject": "x",
                "description": "",
                "files": [{"upload_id": world.acme.upload_id, "display_name": "a.pdf"}],
            },
            headers=ann,
        )
        assert unconfirmed.status_code == 404
        assert problem(unconfirmed)["code"] == "not_found"


def test_cases_are_listed_with_filters_and_pages(world: World) -> None:
    ann = world.bearer(world.acme.client_admin)
    with world.client() as client:
        for number in range(3):
            client.post(
                f"{API}/cases",
                json={"subject": f"Question {number}", "description": "", "priority": "low"},
                headers=ann,
            )
        first = client.get(f"{API}/cases", params={"page_size": 2}, headers=ann).json()
        assert (first["total"], first["page"], first["has_next"]) == (4, 1, True)
        assert len(first["items"]) == 2
        second = client.get(f"{API}/cases", params={"page_size": 2, "page": 2}, headers=ann).json()
        assert not second["has_next"]
        seen = {c["id"] for c in first["items"] + second["items"]}
        assert len(seen) == 4
        low = client.get(f"{API}/cases", params={"priority": "low"}, headers=ann).json()
        assert low["total"] == 3
        text = client.get(f"{API}/cases", params={"q": "question 1"}, headers=ann).json()
        assert [c["subject"] for c in text["items"]] == ["Question 1"]
        new = client.get(f"{API}/cases", params={"status": ["new", "closed"]}, headers=ann)
        assert new.json()["total"] == 4
        too_big = client.get(f"{API}/cases", params={"page_size": 1000}, headers=ann)
        assert too_big.status_code == 400
        problem(too_big)
        staff = client.get(f"{API}/cases", headers=world.bearer(world.staff)).json()
        assert {c["organisation_id"] for c in staff["items"]} == {"acme", "globex"}


def test_comments_status_and_assignment_follow_the_roles(world: World) -> None:
    ann = world.bearer(world.acme.client_admin)
    sam = world.bearer(world.staff)
    case_id = world.acme.case_id
    with world.client() as client:
        internal = client.post(
            f"{API}/cases/{case_id}/comments",
            json={"body": "Looks tricky", "visibility": "internal"},
            headers=ann,
        )
        assert internal.status_code == 403
        staff_note = client.post(
            f"{API}/cases/{case_id}/comments",
            json={"body": "Looks tricky", "visibility": "internal"},
            headers=sam,
        )
        assert staff_note.status_code == 201, staff_note.text
        reply = client.post(f"{API}/cases/{case_id}/comments", json={"body": "Thanks"}, headers=ann)
        assert reply.status_code == 201
        client_view = client.get(f"{API}/cases/{case_id}", headers=ann).json()
        assert "Looks tricky" not in str(client_view["timeline"])
        staff_view = client.get(f"{API}/cases/{case_id}", headers=sam).json()
        assert "internal" in {e["visibility"] for e in staff_view["timeline"]}

        version = staff_view["case"]["version"]
        moved = client.post(
            f"{API}/cases/{case_id}/status",
            json={"status": "in_progress", "expected_version": version},
            headers=sam,
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == "in_progress"
        stale = client.post(
            f"{API}/cases/{case_id}/status",
            json={"status": "resolved", "expected_version": version},
            headers=sam,
        )
        assert stale.status_code == 409
        assert problem(stale)["code"] == "concurrency_conflict"

        assigned = client.post(
            f"{API}/cases/{case_id}/assignee", json={"assignee_id": "sam"}, headers=sam
        )
        assert assigned.json()["assignee_id"] == "sam"
        not_staff = client.post(
            f"{API}/cases/{case_id}/assignee", json={"assignee_id": "acme-admin"}, headers=sam
        )
        assert not_staff.status_code == 422


def test_a_file_downloads_through_a_short_lived_link_and_a_case_as_a_zip(world: World) -> None:
    ann = world.bearer(world.acme.client_admin)
    with world.client() as client:
        redirect = client.get(
            f"{API}/attachments/{world.acme.attachment_id}/download",
            headers=ann,
            follow_redirects=False,
        )
        assert redirect.status_code == 303
        assert redirect.headers["location"].startswith("memory://download/")
        link = client.get(f"{API}/attachments/{world.acme.attachment_id}/link", headers=ann)
        assert link.json()["expires_in_seconds"] == 300
        archive = client.get(f"{API}/cases/{world.acme.case_id}/files.zip", headers=ann)
        assert archive.status_code == 200
        assert archive.headers["content-type"] == "application/zip"
        assert "attachment" in archive.headers["content-disposition"]
        with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
            assert opened.namelist() == ["letter.pdf"]
            assert opened.read("letter.pdf") == PDF_BYTES


def test_a_new_case_shows_its_portal_number_until_the_case_system_gives_its_own(
    world: World,
) -> None:
    ann = world.bearer(world.acme.client_admin)
    with world.client() as client:
        created = client.post(
            f"{API}/cases", json={"subject": "Lease renewal", "description": ""}, headers=ann
        ).json()["case"]
        assert created["pending"] is True
        assert created["number"] == created["reference"]
        assert created["external_number"] is None
        # The write-back to the case system (Salesforce) links it and gives its CaseNumber.
        with world.container.uow() as uow:
            case = uow.cases.get(created["id"])
            assert case is not None
            linked, event = case.link(
                external_id="500000000000000AAA",
                external_number="00001026",
                actor_id="system:salesforce",
                event_id="link-1",
                at=world.container.clock.now(),
            )
            uow.history.append(event)
            uow.cases.update(linked, expected_version=case.version)
            uow.commit()
        case_body = client.get(f"{API}/cases/{created['id']}", headers=ann).json()["case"]
        listed = client.get(f"{API}/cases", headers=ann).json()["items"]
    assert case_body["pending"] is False
    assert [c["number"] for c in listed if c["id"] == created["id"]] == ["00001026"]
    assert (case_body["number"], case_body["external_number"]) == ("00001026", "00001026")
    assert case_body["reference"] == created["reference"]
