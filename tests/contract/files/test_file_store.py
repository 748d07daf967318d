"""The FileStore contract: every implementation behaves like this, the in-memory fake included."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from adapters.local.files import UploadTooLarge
from adapters.memory import SequentialIds
from adapters.zipstream import stream_zip
from portal_core.cases.content import Refusal
from portal_core.cases.model import Attachment
from portal_core.cases.uploads import (
    ConfirmUpload,
    FileLimits,
    FileRefused,
    FileService,
    RequestUpload,
    archive_entries,
)
from portal_core.errors import NotFound
from portal_core.organisations.model import Principal, Role
from tests.contract.files.conftest import MAX_LINK_LIFE, StoreHarness

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40
TEN_MINUTES = timedelta(minutes=10)
UPLOADED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def put(harness: StoreHarness, key: str, data: bytes, content_type: str = "application/pdf"):
    ticket = harness.store.upload_ticket(
        key, content_type=content_type, max_size=10_000_000, expires_in=TEN_MINUTES
    )
    harness.upload(ticket, data)


def test_a_file_uploaded_with_a_ticket_reads_back_whole(harness: StoreHarness):
    put(harness, "incoming/org/acme/u1", PDF)
    stored = harness.store.describe("incoming/org/acme/u1")
    assert stored is not None
    assert stored.key == "incoming/org/acme/u1"
    assert stored.size == len(PDF)
    assert stored.content_type == "application/pdf"
    assert stored.checksum == hashlib.sha256(PDF).hexdigest()
    assert b"".join(harness.store.read("incoming/org/acme/u1")) == PDF


def test_a_large_file_is_read_in_chunks(harness: StoreHarness):
    data = b"%PDF-" + b"x" * 3_000_000
    put(harness, "org/acme/upload/big", data)
    chunks = list(harness.store.read("org/acme/upload/big"))
    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= 1_000_000
    assert b"".join(chunks) == data


def test_the_head_is_the_first_bytes_or_the_whole_of_a_short_file(harness: StoreHarness):
    put(harness, "org/acme/upload/h", PDF)
    assert harness.store.read_head("org/acme/upload/h", 8) == b"%PDF-1.7"
    assert harness.store.read_head("org/acme/upload/h", 1_000_000) == PDF


def test_an_absent_file_is_none_or_not_found(harness: StoreHarness):
    assert harness.store.describe("org/acme/upload/none") is None
    with pytest.raises(NotFound):
        b"".join(harness.store.read("org/acme/upload/none"))
    with pytest.raises(NotFound):
        harness.store.read_head("org/acme/upload/none", 10)
    with pytest.raises(NotFound):
        harness.store.move("org/acme/upload/none", "org/acme/upload/other")


def test_a_moved_file_keeps_its_content_type_and_checksum(harness: StoreHarness):
    put(harness, "incoming/org/acme/m", b"a,b\n1,2\n", "text/csv")
    before = harness.store.describe("incoming/org/acme/m")
    moved = harness.store.move("incoming/org/acme/m", "org/acme/upload/m")
    assert harness.store.describe("incoming/org/acme/m") is None
    assert moved == harness.store.describe("org/acme/upload/m")
    assert before is not None
    assert (moved.size, moved.content_type, moved.checksum) == (
        before.size,
        before.content_type,
        before.checksum,
    )
    assert b"".join(harness.store.read("org/acme/upload/m")) == b"a,b\n1,2\n"


def test_content_the_server_writes_is_described_with_its_checksum_and_replaced_whole(
    harness: StoreHarness,
):
    key = "org/acme/invoices/INV-2026-0001.pdf"
    chunks = [PDF[:1000], PDF[1000:], b""]
    written = harness.store.write(key, iter(chunks), "application/pdf")
    assert written == harness.store.describe(key)
    assert (written.size, written.content_type, written.checksum) == (
        len(PDF),
        "application/pdf",
        hashlib.sha256(PDF).hexdigest(),
    )
    assert b"".join(harness.store.read(key)) == PDF
    harness.store.write(key, [b"%PDF-short"], "application/pdf")
    assert b"".join(harness.store.read(key)) == b"%PDF-short"


def test_usage_counts_the_bytes_under_a_prefix_only(harness: StoreHarness):
    put(harness, "org/acme/upload/a", b"%PDF-" + b"1" * 95)
    put(harness, "org/acme/upload/b", b"%PDF-" + b"1" * 45)
    put(harness, "org/acme-two/upload/c", b"%PDF-" + b"1" * 995)
    put(harness, "incoming/org/acme/d", b"%PDF-" + b"1" * 9995)
    assert harness.store.usage("org/acme/") == 150
    assert harness.store.usage("org/acme/upload/") == 150
    assert harness.store.usage("org/") == 1150
    assert harness.store.usage("org/nobody/") == 0


def test_a_deleted_file_is_gone_and_deleting_it_again_is_fine(harness: StoreHarness):
    put(harness, "org/acme/upload/gone", PDF)
    harness.store.delete("org/acme/upload/gone")
    assert harness.store.describe("org/acme/upload/gone") is None
    harness.store.delete("org/acme/upload/gone")
    assert harness.store.usage("org/acme/") == 0


def test_tickets_carry_the_key_type_and_limit_and_never_outlive_the_maximum(
    harness: StoreHarness,
):
    ticket = harness.store.upload_ticket(
        "incoming/org/acme/t", content_type="image/png", max_size=4096, expires_in=TEN_MINUTES
    )
    assert ticket.key == "incoming/org/acme/t"
    assert ticket.max_size == 4096
    assert ticket.fields["Content-Type"] == "image/png"
    assert ticket.expires_at - harness.clock.now() <= TEN_MINUTES
    assert ticket.expires_at - harness.clock.now() > TEN_MINUTES - timedelta(seconds=5)
    long = harness.store.upload_ticket(
        "incoming/org/acme/t", content_type="image/png", max_size=4096, expires_in=timedelta(days=2)
    )
    assert long.expires_at - harness.clock.now() <= MAX_LINK_LIFE


def test_download_links_live_minutes_and_never_longer_than_the_maximum(harness: StoreHarness):
    put(harness, "org/acme/upload/l", PDF)
    link = harness.store.download_link(
        "org/acme/upload/l",
        display_name="report.pdf",
        content_type="application/pdf",
        expires_in=timedelta(minutes=5),
    )
    life = harness.link_life(link)
    assert timedelta(minutes=5) - timedelta(seconds=5) < life <= timedelta(minutes=5)
    longest = harness.store.download_link(
        "org/acme/upload/l",
        display_name="report.pdf",
        content_type="application/pdf",
        expires_in=timedelta(days=7),
    )
    assert harness.link_life(longest) <= MAX_LINK_LIFE


@pytest.mark.parametrize(
    ("display_name", "expected"),
    [
        (
            "Résumé 2026.pdf",
            "attachment; filename=\"Resume 2026.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202026.pdf",
        ),
        (
            "../../etc/passwd\u202etxt.pdf",
            "attachment; filename=\"passwdtxt.pdf\"; filename*=UTF-8''passwdtxt.pdf",
        ),
    ],
)
def test_downloads_are_attachments_named_in_rfc_6266_form(
    harness: StoreHarness, display_name: str, expected: str
):
    put(harness, "org/acme/upload/n", PDF)
    link = harness.store.download_link(
        "org/acme/upload/n",
        display_name=display_name,
        content_type="application/pdf",
        expires_in=timedelta(minutes=5),
    )
    assert harness.link_disposition(link) == expected


def attachment(n: int, name: str, key: str, size: int, content_type: str) -> Attachment:
    return Attachment(
        id=f"a{n}",
        case_id="c1",
        organisation_id="acme",
        display_name=name,
        size=size,
        content_type=content_type,
        checksum="0" * 64,
        storage_key=key,
        uploaded_by="ann",
        uploaded_at=UPLOADED_AT + timedelta(minutes=n),
    )


def test_all_files_of_a_case_stream_as_one_zip(harness: StoreHarness):
    files = {
        "org/acme/upload/1": (b"%PDF-" + b"p" * 700_000, "report.pdf", "application/pdf"),
        "org/acme/upload/2": (b"line\n" * 100_000, "server.log", "text/plain"),
        "org/acme/upload/3": (b"%PDF-second", "report.pdf", "application/pdf"),
        "org/acme/upload/4": ("名前,値\n".encode(), "データ.csv", "text/csv"),
    }
    attachments = []
    for n, (key, (data, name, content_type)) in enumerate(files.items()):
        put(harness, key, data, content_type)
        attachments.append(attachment(n, name, key, len(data), content_type))
    chunks = list(stream_zip(harness.store, archive_entries(attachments)))
    assert len(chunks) > 2, "the zip must go out in pieces, not as one buffer"
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["report.pdf", "server.log", "report (2).pdf", "データ.csv"]
        assert archive.read("report.pdf") == files["org/acme/upload/1"][0]
        assert archive.read("report (2).pdf") == b"%PDF-second"
        assert archive.read("データ.csv") == "名前,値\n".encode()
        assert archive.getinfo("server.log").compress_type == zipfile.ZIP_DEFLATED
        assert archive.getinfo("report.pdf").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("server.log").compress_size < 10_000


# --- the upload use cases over each store ------------------------------------------------------

CLIENT = Principal(user_id="ann", organisation_id="acme", roles=frozenset({Role.CLIENT_ADMIN}))


def file_service(harness: StoreHarness, *, max_file_size: int = 100_000) -> FileService:
    limits = FileLimits(max_file_size=max_file_size, organisation_quota=1_000_000)
    return FileService(files=harness.store, ids=SequentialIds("up"), limits=limits)


def send(harness: StoreHarness, service: FileService, data: bytes, declared: str, name: str):
    grant = service.request_upload(CLIENT, RequestUpload(display_name=name, content_type=declared))
    harness.upload(grant.ticket, data)
    return grant


def test_a_confirmed_upload_is_ready_to_attach(harness: StoreHarness):
    service = file_service(harness)
    grant = send(harness, service, PDF, "application/pdf", "r.pdf")
    uploaded = service.confirm_upload(
        CLIENT, ConfirmUpload(upload_id=grant.upload_id, display_name="r.pdf")
    )
    stored = harness.store.describe(uploaded.storage_key)
    assert uploaded.storage_key == f"org/acme/upload/{grant.upload_id}"
    assert stored is not None
    assert stored.checksum == hashlib.sha256(PDF).hexdigest()
    assert harness.store.describe(grant.ticket.key) is None


def test_an_html_page_declared_as_pdf_is_quarantined(harness: StoreHarness):
    service = file_service(harness)
    grant = send(
        harness, service, b"<!DOCTYPE html><script>x()</script>", "application/pdf", "a.pdf"
    )
    with pytest.raises(FileRefused) as refused:
        service.confirm_upload(CLIENT, ConfirmUpload(upload_id=grant.upload_id, display_name="a"))
    assert refused.value.refusal is Refusal.ACTIVE_CONTENT
    assert harness.store.describe(f"quarantine/org/acme/{grant.upload_id}") is not None
    assert harness.store.usage("org/acme/") == 0
    assert harness.store.usage("incoming/") == 0


def test_a_png_that_is_not_a_png_is_quarantined(harness: StoreHarness):
    service = file_service(harness)
    grant = send(harness, service, b"GIF89a\x01\x00\x01\x00", "image/png", "shot.png")
    with pytest.raises(FileRefused) as refused:
        service.confirm_upload(CLIENT, ConfirmUpload(upload_id=grant.upload_id, display_name="a"))
    assert refused.value.refusal is Refusal.CONTENT_MISMATCH
    assert harness.store.describe(f"quarantine/org/acme/{grant.upload_id}") is not None


def test_a_file_over_the_limit_is_never_kept(harness: StoreHarness):
    service = file_service(harness, max_file_size=1_000)
    grant = service.request_upload(
        CLIENT, RequestUpload(display_name="big.pdf", content_type="application/pdf")
    )
    too_big = b"%PDF-" + b"0" * 996
    try:
        harness.upload(grant.ticket, too_big)
    except UploadTooLarge:
        pass  # refused while streaming (local disk); S3 refuses by policy, moto does not
    else:
        with pytest.raises(FileRefused) as refused:
            service.confirm_upload(
                CLIENT, ConfirmUpload(upload_id=grant.upload_id, display_name="big.pdf")
            )
        assert refused.value.refusal is Refusal.TOO_LARGE
    assert harness.store.usage("") == 0


@pytest.mark.parametrize(
    "name",
    ["../../../etc/passwd.pdf", "CON.pdf", "a\x00b.pdf", "x" * 10_000 + ".pdf", "gpj\u202e.pdf"],
)
def test_a_hostile_file_name_never_reaches_the_key(harness: StoreHarness, name: str):
    service = file_service(harness)
    grant = send(harness, service, PDF, "application/pdf", name)
    uploaded = service.confirm_upload(
        CLIENT, ConfirmUpload(upload_id=grant.upload_id, display_name=name)
    )
    assert grant.ticket.key == f"incoming/org/acme/{grant.upload_id}"
    assert uploaded.storage_key == f"org/acme/upload/{grant.upload_id}"
    assert uploaded.display_name == grant.display_name
    assert len(uploaded.display_name) <= 180
    assert not any(ch in uploaded.display_name for ch in "/\\\x00\u202e")
