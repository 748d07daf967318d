"""What S3 enforces is what the policy says: moto's server enforces none of it, so these tests
read the signed policy and links themselves."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.s3 import S3FileStore
from tests.contract.files.conftest import MAX_LINK_LIFE, StoreHarness


def policy_of(fields: dict[str, str]) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def test_the_post_policy_limits_size_type_and_key_and_expires_in_minutes(s3_store: StoreHarness):
    ticket = s3_store.store.upload_ticket(
        "incoming/org/acme/p1",
        content_type="application/pdf",
        max_size=25_000_000,
        expires_in=timedelta(minutes=10),
    )
    policy = policy_of(ticket.fields)
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 25_000_000] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"key": "incoming/org/acme/p1"} in conditions
    assert {"bucket": ticket.url.rstrip("/").rsplit("/", 1)[-1]} in conditions
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert abs(expiration - ticket.expires_at) < timedelta(seconds=5)
    assert abs(expiration - datetime.now(UTC) - timedelta(minutes=10)) < timedelta(seconds=5)
    assert ticket.fields["key"] == "incoming/org/acme/p1"
    assert ticket.fields["Content-Type"] == "application/pdf"


def test_a_ticket_asked_for_a_day_lives_only_the_maximum(s3_store: StoreHarness):
    ticket = s3_store.store.upload_ticket(
        "incoming/org/acme/p2",
        content_type="image/png",
        max_size=100,
        expires_in=timedelta(days=1),
    )
    expiration = datetime.fromisoformat(
        policy_of(ticket.fields)["expiration"].replace("Z", "+00:00")
    )
    assert expiration - datetime.now(UTC) <= MAX_LINK_LIFE


def test_the_download_link_fixes_type_disposition_caching_and_life(s3_store: StoreHarness):
    link = s3_store.store.download_link(
        "org/acme/upload/x",
        display_name="Übersicht.xlsx",
        content_type="application/pdf",
        expires_in=timedelta(minutes=3),
    )
    query = parse_qs(urlsplit(link).query)
    assert query["X-Amz-Expires"] == ["180"]
    assert query["response-content-type"] == ["application/pdf"]
    assert query["response-cache-control"] == ["private, no-store"]
    assert query["response-content-disposition"] == [
        "attachment; filename=\"Ubersicht.xlsx\"; filename*=UTF-8''%C3%9Cbersicht.xlsx"
    ]
    assert "X-Amz-Signature" in query


def test_the_download_link_serves_the_bytes_as_an_attachment(s3_store: StoreHarness):
    ticket = s3_store.store.upload_ticket(
        "org/acme/upload/d",
        content_type="text/plain",
        max_size=100,
        expires_in=timedelta(minutes=5),
    )
    s3_store.upload(ticket, b"hello\n")
    link = s3_store.store.download_link(
        "org/acme/upload/d",
        display_name="hello.txt",
        content_type="text/plain; charset=utf-8",
        expires_in=timedelta(minutes=5),
    )
    answer = httpx.get(link)
    assert answer.status_code == 200
    assert answer.content == b"hello\n"
    assert answer.headers["content-disposition"].startswith('attachment; filename="hello.txt"')


def test_a_store_never_allows_links_beyond_s3s_seven_days(s3_client):
    with pytest.raises(ValueError, match="7 days"):
        S3FileStore(s3_client, "b", clock=None, max_link_life=timedelta(days=8))
