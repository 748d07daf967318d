"""The upload use cases on the in-memory fakes: tickets, confirmation, quota, links, archives."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from adapters.memory import SequentialIds
from portal_core.cases.content import Refusal
from portal_core.cases.model import Attachment
from portal_core.cases.service import AttachFiles, SubmitCase, UploadedFile
from portal_core.cases.uploads import (
    ConfirmUpload,
    FileLimits,
    FileRefused,
    FileService,
    QuotaExceeded,
    RequestUpload,
    archive_entries,
)
from portal_core.errors import InvalidInput, NotFound, PermissionDenied
from tests.unit.cases.builders import START, World, make_world

PDF = b"%PDF-1.7\n" + b"0" * 500
LIMITS = FileLimits(
    max_file_size=1_000,
    organisation_quota=2_500,
    upload_link_life=timedelta(minutes=10),
    download_link_life=timedelta(minutes=5),
)


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def files(world: World) -> FileService:
    return FileService(files=world.files, ids=SequentialIds("up"), limits=LIMITS)


def upload(
    world: World,
    files: FileService,
    content: bytes,
    *,
    name: str = "report.pdf",
    declared: str = "application/pdf",
    stored_as: str | None = None,
):
    grant = files.request_upload(
        world.acme_admin, RequestUpload(display_name=name, content_type=declared)
    )
    world.files.put(grant.ticket.key, content, stored_as or grant.content_type)
    return grant


def test_an_uploaded_and_confirmed_file_can_be_attached_to_a_new_case(world, files):
    grant = upload(world, files, PDF, name="../../Q1 report.pdf")
    uploaded = files.confirm_upload(
        world.acme_admin, ConfirmUpload(upload_id=grant.upload_id, display_name="../Q1 report.pdf")
    )
    assert uploaded.storage_key == f"org/acme/upload/{grant.upload_id}"
    assert uploaded.display_name == "Q1 report.pdf"
    case = world.service.submit(
        world.acme_admin, SubmitCase(subject="Audit", description="See file", files=(uploaded,))
    )
    [attachment] = world.service.get_case(world.acme_admin, case.id).attachments
    assert attachment.size == len(PDF)
    assert attachment.content_type == "application/pdf"


def test_the_ticket_is_for_a_server_made_key_with_the_limit_and_a_short_life(world, files):
    grant = upload(world, files, PDF, name="../../etc/passwd.pdf")
    ticket = grant.ticket
    assert ticket.key == f"incoming/org/acme/{grant.upload_id}"
    assert "passwd" not in ticket.key
    assert ticket.max_size == LIMITS.max_file_size
    assert ticket.expires_at == START + LIMITS.upload_link_life
    assert ticket.fields["Content-Type"] == "application/pdf"


def test_an_unconfirmed_upload_cannot_be_attached(world, files):
    grant = upload(world, files, PDF)
    case = world.service.submit(world.acme_admin, SubmitCase(subject="S", description="D"))
    raw = UploadedFile(storage_key=grant.ticket.key, display_name="report.pdf")
    with pytest.raises(NotFound):
        world.service.attach_files(world.acme_admin, AttachFiles(case_id=case.id, files=(raw,)))


def test_a_pdf_that_is_really_a_web_page_is_quarantined_and_not_attachable(
    world, files, caplog: pytest.LogCaptureFixture
):
    grant = upload(world, files, b"<html><script>steal()</script></html>")
    with caplog.at_level(logging.WARNING), pytest.raises(FileRefused) as refused:
        files.confirm_upload(
            world.acme_admin, ConfirmUpload(upload_id=grant.upload_id, display_name="x.pdf")
        )
    assert refused.value.refusal is Refusal.ACTIVE_CONTENT
    assert "web page or script" in refused.value.message
    assert world.files.describe(grant.ticket.key) is None
    assert world.files.describe(f"org/acme/upload/{grant.upload_id}") is None
    assert world.files.describe(f"quarantine/org/acme/{grant.upload_id}") is not None
    assert "ACTIVE_CONTENT" in caplog.text
    assert "quarantined" in caplog.text


def test_an_oversized_file_that_reached_the_store_is_deleted_at_confirmation(world, files):
    grant = upload(world, files, b"%PDF-1.7\n" + b"0" * LIMITS.max_file_size)
    with pytest.raises(FileRefused) as refused:
        files.confirm_upload(
            world.acme_admin, ConfirmUpload(upload_id=grant.upload_id, display_name="x.pdf")
        )
    assert refused.value.refusal is Refusal.TOO_LARGE
    assert world.files.usage("") == 0


def test_a_file_stored_under_a_type_outside_the_list_is_deleted(world, files):
    grant = upload(world, files, b"<p>hi</p>", stored_as="text/html")
    with pytest.raises(FileRefused) as refused:
        files.confirm_upload(
            world.acme_admin, ConfirmUpload(upload_id=grant.upload_id, display_name="x.html")
        )
    assert refused.value.refusal is Refusal.TYPE_NOT_ALLOWED
    assert world.files.usage("") == 0


def test_a_type_outside_the_list_gets_no_ticket(world, files, caplog):
    with caplog.at_level(logging.WARNING), pytest.raises(FileRefused) as refused:
        files.request_upload(
            world.acme_admin, RequestUpload(display_name="page.html", content_type="text/html")
        )
    assert "cannot be uploaded" in refused.value.message
    assert world.files.tickets == []
    assert "TYPE_NOT_ALLOWED" in caplog.text


def test_a_file_declared_too_big_gets_no_ticket(world, files):
    with pytest.raises(FileRefused, match="1 kB"):
        files.request_upload(
            world.acme_admin,
            RequestUpload(display_name="a.pdf", content_type="application/pdf", size=1_001),
        )
    assert world.files.tickets == []


def test_confirming_twice_gives_the_same_file(world, files):
    grant = upload(world, files, PDF)
    command = ConfirmUpload(upload_id=grant.upload_id, display_name="r.pdf")
    assert files.confirm_upload(world.acme_admin, command) == files.confirm_upload(
        world.acme_admin, command
    )


def test_confirming_an_upload_that_never_arrived_is_not_found(world, files):
    grant = files.request_upload(
        world.acme_admin, RequestUpload(display_name="a.pdf", content_type="application/pdf")
    )
    with pytest.raises(NotFound):
        files.confirm_upload(
            world.acme_admin, ConfirmUpload(upload_id=grant.upload_id, display_name="a.pdf")
        )


def test_another_organisations_upload_cannot_be_confirmed(world, files):
    grant = upload(world, files, PDF)
    with pytest.raises(NotFound):
        files.confirm_upload(
            world.globex_admin, ConfirmUpload(upload_id=grant.upload_id, display_name="a.pdf")
        )
    assert world.files.describe(grant.ticket.key) is not None


@pytest.mark.parametrize("upload_id", ["../upload/x", "a/b", "..", "a b", "%2e%2e"])
def test_an_upload_id_with_a_path_is_not_found(world, files, upload_id):
    with pytest.raises(NotFound):
        files.confirm_upload(
            world.acme_admin, ConfirmUpload(upload_id=upload_id, display_name="a.pdf")
        )


def test_viewers_cannot_upload(world, files):
    with pytest.raises(PermissionDenied):
        files.request_upload(
            world.acme_viewer, RequestUpload(display_name="a.pdf", content_type="application/pdf")
        )


def test_staff_upload_for_the_organisation_they_name(world, files):
    with pytest.raises(InvalidInput):
        files.request_upload(
            world.staff, RequestUpload(display_name="a.pdf", content_type="application/pdf")
        )
    grant = files.request_upload(
        world.staff,
        RequestUpload(
            display_name="a.pdf", content_type="application/pdf", organisation_id="globex"
        ),
    )
    assert grant.ticket.key.startswith("incoming/org/globex/")


def test_a_client_naming_another_organisation_still_uploads_to_their_own(world, files):
    grant = files.request_upload(
        world.acme_admin,
        RequestUpload(
            display_name="a.pdf", content_type="application/pdf", organisation_id="globex"
        ),
    )
    assert grant.ticket.key.startswith("incoming/org/acme/")


def confirm(world: World, files: FileService, content: bytes) -> None:
    grant = upload(world, files, content)
    files.confirm_upload(
        world.acme_admin, ConfirmUpload(upload_id=grant.upload_id, display_name="a.pdf")
    )


def test_the_ticket_shrinks_to_what_is_left_of_the_quota(world, files):
    confirm(world, files, b"%PDF-" + b"0" * 995)
    confirm(world, files, b"%PDF-" + b"0" * 995)
    grant = files.request_upload(
        world.acme_admin, RequestUpload(display_name="a.pdf", content_type="application/pdf")
    )
    assert grant.ticket.max_size == 500


def test_over_quota_no_ticket_is_given(world, files):
    for _ in range(2):
        confirm(world, files, b"%PDF-" + b"0" * 995)
    confirm(world, files, b"%PDF-" + b"0" * 495)
    tickets = len(world.files.tickets)
    with pytest.raises(QuotaExceeded, match=r"2\.5 kB"):
        files.request_upload(
            world.acme_admin, RequestUpload(display_name="a.pdf", content_type="application/pdf")
        )
    assert len(world.files.tickets) == tickets


def test_uploads_racing_past_the_quota_are_refused_at_confirmation(world, files):
    confirm(world, files, b"%PDF-" + b"0" * 995)
    first = upload(world, files, b"%PDF-" + b"0" * 995)
    second = upload(world, files, b"%PDF-" + b"0" * 995)
    files.confirm_upload(
        world.acme_admin, ConfirmUpload(upload_id=first.upload_id, display_name="a")
    )
    with pytest.raises(QuotaExceeded):
        files.confirm_upload(
            world.acme_admin, ConfirmUpload(upload_id=second.upload_id, display_name="b")
        )
    assert world.files.describe(second.ticket.key) is None
    assert world.files.usage("org/acme/") == 2_000


def test_quotas_are_per_organisation(world, files):
    for _ in range(2):
        confirm(world, files, b"%PDF-" + b"0" * 995)
    confirm(world, files, b"%PDF-" + b"0" * 495)
    grant = files.request_upload(
        world.globex_admin, RequestUpload(display_name="a.pdf", content_type="application/pdf")
    )
    assert grant.ticket.max_size == LIMITS.max_file_size


def attachment(
    attachment_id: str, name: str, *, minutes: int = 0, content_type: str = "application/pdf"
) -> Attachment:
    return Attachment(
        id=attachment_id,
        case_id="case-1",
        organisation_id="acme",
        display_name=name,
        size=10,
        content_type=content_type,
        checksum="0" * 64,
        storage_key=f"org/acme/upload/{attachment_id}",
        uploaded_by="ann",
        uploaded_at=START + timedelta(minutes=minutes),
    )


def test_download_links_are_short_lived_attachments_for_the_organisation_only(world, files):
    link = files.download_link(world.acme_viewer, attachment("a1", "Résumé.pdf"))
    query = parse_qs(urlsplit(link).query)
    assert int(query["expires"][0]) == int((START + LIMITS.download_link_life).timestamp())
    assert unquote(query["disposition"][0]).startswith('attachment; filename="Resume.pdf"')
    assert query["type"] == ["application/pdf"]
    with pytest.raises(NotFound):
        files.download_link(world.globex_admin, attachment("a1", "Résumé.pdf"))


def test_archive_names_duplicates_like_a_file_manager(world):
    entries = archive_entries(
        [
            attachment("a3", "REPORT.pdf", minutes=2),
            attachment("a1", "report.pdf", minutes=0),
            attachment("a2", "report.pdf", minutes=1),
            attachment("a4", "report (2).pdf", minutes=3),
            attachment("a5", "notes", minutes=4, content_type="text/plain"),
            attachment("a6", "notes", minutes=5, content_type="text/plain"),
        ]
    )
    assert [e.name for e in entries] == [
        "report.pdf",
        "report (2).pdf",
        "REPORT (3).pdf",
        "report (2) (2).pdf",
        "notes",
        "notes (2)",
    ]
    assert [e.compress for e in entries] == [False] * 4 + [True] * 2
    assert len({e.name.casefold() for e in entries}) == len(entries)
