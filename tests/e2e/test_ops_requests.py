"""Request ids, structured logs, rate limits, the client address, body limits and headers."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, get, post
from litestar.params import JSONBody
from litestar.testing import TestClient

from entrypoints.cli import main
from entrypoints.web import create_app
from entrypoints.web.operations import SIGN_IN_RATE_LIMIT, log_handler
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for

UNCHECKED = {"public": True, "exclude_from_csrf": True}
probe_log = logging.getLogger("tests.ops.probe")


@get("/probe/address", opt=UNCHECKED, sync_to_thread=False)
def client_address(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"address": request.client.host if request.client else ""}


@get("/probe/log", opt=UNCHECKED, sync_to_thread=True)
def writes_a_log_line() -> str:
    probe_log.warning("probe line", extra={"case_count": 3})
    return "logged"


@get("/probe/crash", opt=UNCHECKED, sync_to_thread=False)
def crash() -> None:
    raise RuntimeError("psycopg.errors.UndefinedTable: SELECT * FROM cases WHERE id = 'x'")


@get("/probe/sign-in", opt={**UNCHECKED, **SIGN_IN_RATE_LIMIT}, sync_to_thread=False)
def sign_in_form() -> str:
    return "the form"


@post("/probe/sign-in", opt={**UNCHECKED, **SIGN_IN_RATE_LIMIT}, sync_to_thread=False)
def sign_in_attempt() -> str:
    return "checked"


@post("/probe/json", opt=UNCHECKED, sync_to_thread=False)
def takes_json(data: JSONBody[dict[str, Any]]) -> dict[str, int]:
    return {"keys": len(data)}


@post("/probe/form", opt=UNCHECKED)
async def takes_a_form(request: Request[Any, Any, Any]) -> dict[str, int]:
    form = await request.form()
    return {"fields": len(form)}


PROBES = [
    client_address,
    writes_a_log_line,
    crash,
    sign_in_form,
    sign_in_attempt,
    takes_json,
    takes_a_form,
]


def portal(tmp_path: Path, **variables: str) -> Litestar:
    return create_app(
        container_on_fakes(settings_for(tmp_path, **variables)), route_handlers=PROBES
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    app = portal(tmp_path, rate_limit_per_minute="1000")
    with TestClient(app, base_url=f"http://{TEST_HOST}", raise_server_exceptions=False) as client:
        yield client


def test_each_response_names_its_request_id_and_a_well_formed_incoming_id_is_kept(
    client: TestClient[Litestar],
) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21-0001"})

    assert first != second
    assert len(first) >= 16
    assert kept.headers["x-request-id"] == "lb-7f3a9c21-0001"


@pytest.mark.parametrize("forged", ["a b", "x" * 200, "id<script>", "-leading-dash"])
def test_a_malformed_incoming_request_id_is_replaced(
    client: TestClient[Litestar], forged: str
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": forged.encode().decode("latin-1")})

    assert response.headers["x-request-id"] != forged
    assert response.headers["x-request-id"].isalnum()


def test_responses_that_reach_no_route_have_a_request_id_too(
    client: TestClient[Litestar],
) -> None:
    assert client.get("/no/such/page").headers["x-request-id"]


def test_the_correlation_id_of_a_server_error_is_its_request_id(
    client: TestClient[Litestar],
) -> None:
    response = client.get("/probe/crash", headers={"X-Request-ID": "support-case-42"})

    assert response.status_code == 500
    assert response.json()["correlation_id"] == "support-case-42"
    assert response.headers["x-request-id"] == "support-case-42"
    assert "SELECT" not in response.text
    assert "psycopg" not in response.text


def test_every_log_line_of_a_request_carries_its_request_id_as_json(
    client: TestClient[Litestar], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portal.access")
    lines = io.StringIO()
    handler = log_handler(settings_for(tmp_path, environment="embedded", log_format="json"))
    handler.setStream(lines)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        response = client.get("/probe/log", headers={"X-Request-ID": "req-0001"})
    finally:
        root.removeHandler(handler)

    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    probe = next(r for r in records if r["event"] == "probe line")
    access = next(r for r in records if r["logger"] == "portal.access")
    assert response.status_code == 200
    assert probe["request_id"] == access["request_id"] == "req-0001"
    assert probe["case_count"] == 3
    assert access["route"] == "/probe/log"
    assert access["status"] == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_rate_limit(tmp_path: Path) -> None:
    app = portal(tmp_path, rate_limit_per_minute="3")
    with TestClient(app, base_url=f"http://{TEST_HOST}") as client:
        statuses = [
            client.get("/probe/address", headers={"X-Forwarded-For": f"203.0.113.{n}"})
            for n in range(4)
        ]

    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    refused = statuses[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["status"] == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_sign_in_forms_have_their_own_stricter_limit_and_probes_none(tmp_path: Path) -> None:
    app = portal(tmp_path, rate_limit_per_minute="100", sign_in_rate_limit_per_minute="2")
    with TestClient(app, base_url=f"http://{TEST_HOST}") as client:
        forms = [client.get("/probe/sign-in").status_code for _ in range(3)]
        sign_ins = [client.post("/probe/sign-in").status_code for _ in range(3)]
        others = [client.get("/probe/address").status_code for _ in range(3)]
        probes = [client.get("/healthz").status_code for _ in range(120)]

    assert forms == [200, 200, 200]
    assert sign_ins == [201, 201, 429]
    assert others == [200, 200, 200]
    assert set(probes) == {200}


def address_seen(app: Litestar, *, peer: str, forwarded_for: str) -> str:
    async def ask() -> str:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{TEST_HOST}") as http:
            response = await http.get("/probe/address", headers={"X-Forwarded-For": forwarded_for})
        return str(response.json()["address"])

    return asyncio.run(ask())


def test_the_client_address_is_the_peer_unless_the_peer_is_a_trusted_proxy(
    tmp_path: Path,
) -> None:
    untrusting = portal(tmp_path)
    behind_proxy = portal(tmp_path, trusted_proxies="10.0.0.0/8")

    assert address_seen(untrusting, peer="198.51.100.7", forwarded_for="1.2.3.4") == "198.51.100.7"
    assert address_seen(behind_proxy, peer="10.1.2.3", forwarded_for="1.2.3.4") == "1.2.3.4"
    assert address_seen(behind_proxy, peer="198.51.100.7", forwarded_for="1.2.3.4") == (
        "198.51.100.7"
    )


def test_production_trusts_only_the_local_proxy_by_default(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, environment="production", base_url="https://portal.example.com"
    )

    assert settings.trusted_proxies == ("127.0.0.1", "::1")
    assert settings_for(tmp_path).trusted_proxies == ()


def post_streamed(app: Litestar, path: str, *, chunk: bytes, chunks: int) -> tuple[int, int]:
    """POST `chunks` copies of `chunk` without a Content-Length; returns the status and how many
    chunks the app pulled before answering."""
    pulled = 0

    async def body() -> Any:
        nonlocal pulled
        for _ in range(chunks):
            pulled += 1
            yield chunk

    async def send() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{TEST_HOST}") as http:
            response = await http.post(
                path, content=body(), headers={"Content-Type": "application/json"}
            )
        return response.status_code

    return asyncio.run(send()), pulled


def test_a_50_mb_json_body_is_refused_after_reading_about_the_limit(tmp_path: Path) -> None:
    app = portal(tmp_path)
    megabyte = b"[" + b"1," * 499_999 + b"1]"

    status, pulled = post_streamed(app, "/probe/json", chunk=megabyte, chunks=50)

    assert status == 413
    assert pulled <= 2  # the default limit is 1 MB: the other 48 MB were never read


def test_a_declared_oversize_body_is_refused_before_it_is_read(
    client: TestClient[Litestar],
) -> None:
    response = client.post(
        "/probe/json",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": str(50 * 10**6)},
    )

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


def test_ten_thousand_multipart_parts_are_refused(client: TestClient[Litestar]) -> None:
    fields = {f"f{n}": "x" for n in range(10_000)}

    response = client.post("/probe/form", files={"file": ("a.txt", b"a")}, data=fields)

    assert response.status_code in (400, 413)


def test_a_form_with_a_few_fields_is_accepted(client: TestClient[Litestar]) -> None:
    response = client.post("/probe/form", files={"file": ("a.txt", b"a")}, data={"title": "x"})

    assert response.json() == {"fields": 2}


@pytest.mark.parametrize("path", ["/static/portal.css", "/", "/probe/log", "/no/such/page"])
def test_text_responses_declare_their_charset(client: TestClient[Litestar], path: str) -> None:
    content_type = client.get(path).headers["content-type"]

    assert not content_type.startswith("text/") or "charset=utf-8" in content_type.lower()


def test_a_request_without_a_host_header_is_refused_whatever_x_forwarded_host_says(
    tmp_path: Path,
) -> None:
    app = portal(tmp_path)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.0",
        "method": "GET",
        "scheme": "http",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"x-forwarded-host", TEST_HOST.encode())],
        "client": ("198.51.100.7", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]

    assert sent[0]["status"] == 400


def test_with_redis_every_process_counts_against_one_limit_per_address(
    tmp_path: Path, redis_url: str
) -> None:
    shared = {
        "redis_url": redis_url,
        "rate_limit_per_minute": "3",
        # A fresh key per run: the counts of an earlier run in the same minute stay apart.
        "secret_key": f"a-secret-key-for-this-run-only-{uuid.uuid4().hex}",
    }
    first, second = (portal(tmp_path / name, **shared) for name in ("a", "b"))
    with (
        TestClient(first, base_url=f"http://{TEST_HOST}") as one,
        TestClient(second, base_url=f"http://{TEST_HOST}") as other,
    ):
        statuses = [(one if n % 2 else other).get("/probe/address").status_code for n in range(4)]

    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("arguments", [["--workers", "0"], ["--reload", "--workers", "2"]])
def test_serve_refuses_impossible_worker_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, arguments: list[str]
) -> None:
    status = main(["serve", *arguments], environ={"PORTAL_DATA_DIR": str(tmp_path / "var")})

    assert status == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()
