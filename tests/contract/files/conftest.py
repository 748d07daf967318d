"""One file store per implementation behind one fixture: the in-memory fake, local disk, and
S3 on moto's server (started once per session, a new bucket per test).

Each harness also plays the browser (`upload`) and reads back what a link promises
(`link_life`, `link_disposition`), since every store spells its links differently.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from attrs import frozen
from botocore.config import Config

from adapters.local.files import DOWNLOAD_PATH, UPLOAD_PATH, LocalDiskFileStore
from adapters.memory import FixedClock, InMemoryFileStore
from adapters.s3 import S3FileStore
from portal_core.ports import Clock, FileStore, UploadTicket
from tests.contract.files.moto_service import CREDENTIALS, REGION, running_moto

MAX_LINK_LIFE = timedelta(minutes=15)
SECRET = b"contract-suite-secret-of-at-least-32-bytes"
BASE_URL = "https://portal.test"


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@frozen
class StoreHarness:
    name: str
    store: FileStore
    clock: Clock
    upload: Callable[[UploadTicket, bytes], None]
    """Send `bytes` with the ticket, as the browser would."""
    link_life: Callable[[str], timedelta]
    """How long a download link lives from now, as the link itself says."""
    link_disposition: Callable[[str], str]
    """The Content-Disposition a download link will be served with."""


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with running_moto() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        **CREDENTIALS,
    )


@pytest.fixture
def memory_store() -> StoreHarness:
    clock = FixedClock()
    store = InMemoryFileStore(clock, max_link_life=MAX_LINK_LIFE)

    def upload(ticket: UploadTicket, data: bytes) -> None:
        store.put(ticket.key, data, ticket.fields["Content-Type"])

    def link_life(url: str) -> timedelta:
        expires = int(parse_qs(urlsplit(url).query)["expires"][0])
        return datetime.fromtimestamp(expires, UTC) - clock.now()

    def link_disposition(url: str) -> str:
        return parse_qs(urlsplit(url).query)["disposition"][0]

    return StoreHarness("memory", store, clock, upload, link_life, link_disposition)


def local_token(url: str, path: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL
    assert parts.path.startswith(path)
    return parts.path.removeprefix(path)


@pytest.fixture
def local_disk_store(tmp_path: Path) -> StoreHarness:
    clock = FixedClock()
    store = LocalDiskFileStore(
        tmp_path / "files",
        secret=SECRET,
        base_url=BASE_URL,
        clock=clock,
        max_link_life=MAX_LINK_LIFE,
    )

    def upload(ticket: UploadTicket, data: bytes) -> None:
        chunks = (data[i : i + 1000] for i in range(0, len(data), 1000))
        store.accept_upload(
            local_token(ticket.url, UPLOAD_PATH),
            chunks,
            content_type=ticket.fields["Content-Type"],
        )

    def link_life(url: str) -> timedelta:
        payload = local_token(url, DOWNLOAD_PATH).split(".")[0]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(claims["e"], UTC) - clock.now()

    def link_disposition(url: str) -> str:
        return store.open_download(local_token(url, DOWNLOAD_PATH)).headers["Content-Disposition"]

    return StoreHarness("local", store, clock, upload, link_life, link_disposition)


@pytest.fixture
def s3_store(s3_client) -> StoreHarness:
    bucket = f"portal-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    clock = WallClock()
    store = S3FileStore(s3_client, bucket, clock=clock, max_link_life=MAX_LINK_LIFE)

    def upload(ticket: UploadTicket, data: bytes) -> None:
        # The form as a browser sends it: every field first, the file last.
        answer = httpx.post(
            ticket.url,
            data=ticket.fields,
            files={"file": ("upload.bin", data, ticket.fields["Content-Type"])},
        )
        assert answer.status_code == 204, answer.text

    def link_life(url: str) -> timedelta:
        return timedelta(seconds=int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]))

    def link_disposition(url: str) -> str:
        return parse_qs(urlsplit(url).query)["response-content-disposition"][0]

    return StoreHarness("s3", store, clock, upload, link_life, link_disposition)


@pytest.fixture(params=["memory", "local_disk", "s3"])
def harness(request: pytest.FixtureRequest) -> StoreHarness:
    found: StoreHarness = request.getfixturevalue(f"{request.param}_store")
    return found
