"""The local-disk store's own links: signed, expiring, single-purpose, size-limited."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.local.files import (
    DOWNLOAD_PATH,
    UPLOAD_PATH,
    InvalidLink,
    LocalDiskFileStore,
    UploadTooLarge,
)
from adapters.memory import FixedClock
from portal_core.errors import InvalidInput, NotFound
from tests.contract.files.conftest import BASE_URL, SECRET, local_token


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock) -> LocalDiskFileStore:
    return LocalDiskFileStore(tmp_path, secret=SECRET, base_url=BASE_URL, clock=clock)


def upload_token(store: LocalDiskFileStore, key: str = "incoming/org/acme/u", max_size: int = 100):
    ticket = store.upload_ticket(
        key, content_type="text/plain", max_size=max_size, expires_in=timedelta(seconds=600)
    )
    return local_token(ticket.url, UPLOAD_PATH)


def test_one_byte_over_the_limit_is_refused_while_streaming_and_nothing_is_kept(
    store: LocalDiskFileStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    token = upload_token(store, max_size=100)
    sent: list[int] = []

    def body():
        for _ in range(1000):
            sent.append(1)
            yield b"x" * 50

    with caplog.at_level(logging.WARNING), pytest.raises(UploadTooLarge, match="100 bytes"):
        store.accept_upload(token, body())
    assert len(sent) == 3, "the upload stops at the first chunk past the limit"
    assert store.describe("incoming/org/acme/u") is None
    assert list((tmp_path / "tmp").iterdir()) == []
    assert "over 100 bytes" in caplog.text
    store.accept_upload(upload_token(store, max_size=100), [b"x" * 100])


def test_an_empty_upload_is_refused(store: LocalDiskFileStore):
    with pytest.raises(InvalidInput, match="empty"):
        store.accept_upload(upload_token(store), [b""])
    assert store.describe("incoming/org/acme/u") is None


def test_an_upload_link_issued_for_n_seconds_fails_after_n(
    store: LocalDiskFileStore, clock: FixedClock
):
    token = upload_token(store)
    clock.advance(timedelta(seconds=599))
    store.accept_upload(token, [b"in time"])
    clock.advance(timedelta(seconds=1))
    with pytest.raises(InvalidLink):
        store.accept_upload(token, [b"too late"])
    assert b"".join(store.read("incoming/org/acme/u")) == b"in time"


def test_a_download_link_issued_for_n_seconds_fails_after_n(
    store: LocalDiskFileStore, clock: FixedClock
):
    store.accept_upload(upload_token(store), [b"data"])
    link = store.download_link(
        "incoming/org/acme/u",
        display_name="d.txt",
        content_type="text/plain",
        expires_in=timedelta(seconds=60),
    )
    token = local_token(link, DOWNLOAD_PATH)
    clock.advance(timedelta(seconds=59))
    assert b"".join(store.open_download(token).chunks) == b"data"
    clock.advance(timedelta(seconds=1))
    with pytest.raises(InvalidLink):
        store.open_download(token)


def test_downloads_carry_attachment_a_fixed_type_and_nosniff(store: LocalDiskFileStore):
    store.accept_upload(upload_token(store), [b"<b>not rendered</b>"])
    link = store.download_link(
        "incoming/org/acme/u",
        display_name="notes\u202etxt.html",
        content_type="text/plain; charset=utf-8",
        expires_in=timedelta(minutes=5),
    )
    download = store.open_download(local_token(link, DOWNLOAD_PATH))
    assert download.headers == {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Disposition": "attachment; filename=\"notestxt.html\"; filename*=UTF-8''notestxt.html",
        "Content-Length": "19",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "e30" + t[3:],
        lambda t: t.split(".")[0],
        lambda t: t + "x",
        lambda _: "",
        lambda _: "not.a-token",
    ],
)
def test_an_altered_or_forged_link_is_refused(store: LocalDiskFileStore, tamper):
    token = upload_token(store)
    with pytest.raises(InvalidLink):
        store.accept_upload(tamper(token), [b"x"])
    assert store.describe("incoming/org/acme/u") is None


def test_a_link_signed_with_another_secret_is_refused(tmp_path: Path, clock: FixedClock):
    other = LocalDiskFileStore(tmp_path, secret=b"z" * 32, base_url=BASE_URL, clock=clock)
    mine = LocalDiskFileStore(tmp_path, secret=SECRET, base_url=BASE_URL, clock=clock)
    with pytest.raises(InvalidLink):
        mine.accept_upload(upload_token(other), [b"x"])


def test_an_upload_link_cannot_download_and_a_download_link_cannot_upload(
    store: LocalDiskFileStore,
):
    token = upload_token(store)
    store.accept_upload(token, [b"x"])
    with pytest.raises(InvalidLink):
        store.open_download(token)
    link = store.download_link(
        "incoming/org/acme/u",
        display_name="x",
        content_type="text/plain",
        expires_in=timedelta(minutes=1),
    )
    with pytest.raises(InvalidLink):
        store.accept_upload(local_token(link, DOWNLOAD_PATH), [b"overwrite"])


def test_the_form_type_must_be_the_tickets(store: LocalDiskFileStore):
    with pytest.raises(InvalidInput, match="type"):
        store.accept_upload(upload_token(store), [b"x"], content_type="text/html")
    store.accept_upload(upload_token(store), [b"x"], content_type="TEXT/PLAIN; charset=utf-8")


@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "org/../../etc/passwd",
        "/etc/passwd",
        "org//x",
        "org/./x",
        "org\\x",
        "a\x00b",
        ".hidden",
    ],
)
def test_keys_that_could_leave_the_root_are_refused(store: LocalDiskFileStore, key: str):
    with pytest.raises(InvalidInput):
        store.upload_ticket(
            key, content_type="text/plain", max_size=1, expires_in=timedelta(minutes=1)
        )
    with pytest.raises(InvalidInput):
        store.describe(key)


def test_the_secret_must_be_long_enough(tmp_path: Path, clock: FixedClock):
    with pytest.raises(ValueError, match="32 bytes"):
        LocalDiskFileStore(tmp_path, secret=b"short", base_url=BASE_URL, clock=clock)


def test_a_file_gone_after_its_link_was_made_is_not_found(store: LocalDiskFileStore):
    store.accept_upload(upload_token(store), [b"x"])
    link = store.download_link(
        "incoming/org/acme/u",
        display_name="x",
        content_type="text/plain",
        expires_in=timedelta(minutes=1),
    )
    store.delete("incoming/org/acme/u")
    with pytest.raises(NotFound):
        store.open_download(local_token(link, DOWNLOAD_PATH))


@given(key=st.text(max_size=40))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_key_is_refused_or_stays_inside_the_root(
    store: LocalDiskFileStore, tmp_path: Path, key: str
):
    try:
        store.upload_ticket(
            key, content_type="text/plain", max_size=1, expires_in=timedelta(minutes=1)
        )
    except InvalidInput:
        return
    resolved = (tmp_path / "objects" / key).resolve()
    assert resolved.is_relative_to((tmp_path / "objects").resolve())
    assert ".." not in Path(key).parts


def test_abandoned_uploads_expire_and_newer_ones_stay(
    store: LocalDiskFileStore, tmp_path: Path, clock: FixedClock
):
    store.accept_upload(upload_token(store, key="incoming/org/acme/old"), [b"old"])
    store.accept_upload(upload_token(store, key="incoming/org/acme/new"), [b"new"])
    store.accept_upload(upload_token(store, key="org/acme/upload/kept"), [b"kept"])
    day_ago = (clock.now() - timedelta(days=1, seconds=1)).timestamp()
    for key in ("incoming/org/acme/old", "org/acme/upload/kept"):
        os.utime(tmp_path / "objects" / key, (day_ago, day_ago))
    hour_ago = (clock.now() - timedelta(hours=1)).timestamp()
    os.utime(tmp_path / "objects" / "incoming/org/acme/new", (hour_ago, hour_ago))
    assert store.expire("incoming/", older_than=timedelta(days=1)) == 1
    assert store.describe("incoming/org/acme/old") is None
    assert store.describe("incoming/org/acme/new") is not None
    assert store.describe("org/acme/upload/kept") is not None
