"""The embedded default's file links: the portal plays S3's part for files on local disk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from adapters.local.files import LocalDiskFileStore
from adapters.memory import FixedClock
from entrypoints.bootstrap import derived_key
from entrypoints.web import create_app
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for

PDF = b"%PDF-1.7\n" + b"x" * 5000
KEY = "uploads/org-1/upload-1"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock) -> LocalDiskFileStore:
    settings = settings_for(tmp_path)
    return LocalDiskFileStore(
        tmp_path / "files",
        secret=derived_key(settings, purpose="file links"),
        base_url=f"http://{TEST_HOST}",
        clock=clock,
    )


@pytest.fixture
def client(
    tmp_path: Path, store: LocalDiskFileStore, clock: FixedClock
) -> Iterator[TestClient[Litestar]]:
    container = container_on_fakes(settings_for(tmp_path), files=store, clock=clock)
    with TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as client:
        yield client


def path_of(url: str) -> str:
    return urlsplit(url).path


def upload(
    client: TestClient[Litestar],
    store: LocalDiskFileStore,
    data: bytes,
    *,
    max_size: int = 10_000,
    content_type: str = "application/pdf",
) -> int:
    ticket = store.upload_ticket(
        KEY, content_type="application/pdf", max_size=max_size, expires_in=timedelta(minutes=5)
    )
    fields = {**ticket.fields, "Content-Type": content_type}
    response = client.post(
        path_of(ticket.url), data=fields, files={"file": ("report.pdf", data, content_type)}
    )
    return response.status_code


def test_a_file_uploaded_with_its_link_is_stored_and_downloaded_as_an_attachment(
    client: TestClient[Litestar], store: LocalDiskFileStore
) -> None:
    assert upload(client, store, PDF) == 204

    stored = store.describe(KEY)
    assert stored is not None
    assert (stored.size, stored.checksum) == (len(PDF), hashlib.sha256(PDF).hexdigest())
    link = store.download_link(
        KEY,
        display_name="Quarterly report.pdf",
        content_type="application/pdf",
        expires_in=timedelta(minutes=1),
    )
    response = client.get(path_of(link))
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_file_over_the_tickets_limit_is_refused_with_413_and_not_kept(
    client: TestClient[Litestar], store: LocalDiskFileStore
) -> None:
    assert upload(client, store, PDF, max_size=len(PDF) - 1) == 413
    assert store.describe(KEY) is None


def test_a_file_of_another_type_than_the_tickets_is_refused(
    client: TestClient[Litestar], store: LocalDiskFileStore
) -> None:
    assert upload(client, store, b"<html>", content_type="text/html") == 422
    assert store.describe(KEY) is None


def test_an_altered_or_expired_link_is_refused(
    client: TestClient[Litestar], store: LocalDiskFileStore, clock: FixedClock
) -> None:
    upload(client, store, PDF)
    link = store.download_link(
        KEY, display_name="r.pdf", content_type="application/pdf", expires_in=timedelta(minutes=1)
    )
    signature = path_of(link).rpartition(".")[2]
    forged = path_of(link).replace(signature, signature[::-1])

    assert client.get(forged).status_code == 403

    clock.advance(timedelta(minutes=2))
    response = client.get(path_of(link))
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_link"
