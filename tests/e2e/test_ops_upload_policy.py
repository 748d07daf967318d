"""Pages let the browser upload straight to S3, and only to the configured bucket's origin."""

from __future__ import annotations

from pathlib import Path

import boto3
from attrs import evolve
from litestar.testing import TestClient

from adapters.memory import FixedClock
from adapters.s3 import S3FileStore
from entrypoints.web import create_app
from entrypoints.web.security import PAGE_POLICY, page_policy
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for


def test_the_page_policy_names_the_bucket_origin_for_direct_uploads(tmp_path: Path) -> None:
    client = boto3.client(
        "s3",
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    store = S3FileStore(client, "firm-uploads", clock=FixedClock())
    assert store.upload_origin == "https://firm-uploads.s3.amazonaws.com"
    container = evolve(container_on_fakes(settings_for(tmp_path)), files=store)
    with TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as http:
        policy = http.get("/").headers["content-security-policy"]
    assert "connect-src 'self' https://firm-uploads.s3.amazonaws.com" in policy
    assert "form-action 'self' https://firm-uploads.s3.amazonaws.com" in policy


def test_without_a_direct_upload_store_pages_connect_only_to_the_portal() -> None:
    assert "connect-src 'self';" in PAGE_POLICY
    assert page_policy() == PAGE_POLICY
