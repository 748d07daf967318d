"""The API's security promises: every route walked as another organisation finds nothing and
changes nothing; staff routes refuse clients; CSRF with cookies, not with bearer tokens; JSON
only, bodies bounded; errors are problem details."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from entrypoints.web.auth import requires_admin, requires_staff, session_cookie_name
from portal_core.cases.model import CaseStatus
from tests.e2e.api_support import API, World, build_world, organisation_rows, problem
from tests.e2e.conftest import settings_for

STAFF_GUARDS = (requires_staff, requires_admin)

# A valid body for every route that takes one: a refusal must come from access, not validation.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/cases"): {"subject": "Mine", "description": "", "organisation_id": "{org}"},
    ("POST", "/cases/{case_id}/comments"): {"body": "Hello"},
    ("POST", "/cases/{case_id}/attachments"): {
        "files": [{"upload_id": "{upload}", "display_name": "x.pdf"}]
    },
    ("POST", "/cases/{case_id}/status"): {"status": "closed"},
    ("POST", "/cases/{case_id}/assignee"): {"assignee_id": "sam"},
    ("POST", "/uploads"): {
        "display_name": "a.pdf",
        "content_type": "application/pdf",
        "organisation_id": "{org}",
    },
    ("POST", "/uploads/{upload_id}/confirm"): {"display_name": "a.pdf", "organisation_id": "{org}"},
    ("POST", "/cases/{case_id}/time-entries"): {
        "role": "Senior",
        "work_date": "2026-01-02",
        "minutes": 30,
        "description": "x",
    },
    ("PATCH", "/time-entries/{entry_id}"): {
        "expected_version": 1,
        "role": "Senior",
        "work_date": "2026-01-02",
        "minutes": 60,
        "description": "x",
    },
    ("POST", "/invoices/{invoice_id}/credit-notes"): {"reason": "x"},
    ("POST", "/organisations/{organisation_id}/monthly-run"): {"period": "2025-12"},
    ("POST", "/organisations"): {"name": "New client"},
    ("POST", "/organisations/{organisation_id}/contacts"): {
        "email": "new@globex.example",
        "name": "New",
        "roles": ["client_viewer"],
    },
    ("PATCH", "/contacts/{user_id}/roles"): {"roles": ["client_viewer"]},
}
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("DELETE", "/time-entries/{entry_id}"): {"expected_version": "1"},
    ("GET", "/cases"): {"organisation_id": "{org}"},
    ("GET", "/invoices"): {"organisation_id": "{org}"},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("api-security"))


def api_operations(app: Litestar) -> list[tuple[str, str, bool]]:
    """(method, path as in the OpenAPI schema, staff only) of every API operation."""
    guards: dict[tuple[str, str], bool] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for handler in route.route_handlers:
            layers = [g for layer in handler.ownership_layers for g in (layer.guards or ())]
            for method in handler.http_methods:
                guards[(method, path)] = any(g in STAFF_GUARDS for g in layers)
    schema = app.openapi_schema
    assert schema.paths is not None
    found = []
    for path, item in schema.paths.items():
        if not path.startswith(API) or path.startswith(f"{API}/schema"):
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            if getattr(item, method) is not None:
                found.append((method.upper(), path, guards[(method.upper(), path)]))
    return found


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def test_every_route_as_another_organisation_finds_nothing_and_changes_nothing(
    world: World,
) -> None:
    other = world.globex
    ids = {
        "org": other.organisation_id,
        "upload": other.upload_id,
        "case_id": other.case_id,
        "attachment_id": other.attachment_id,
        "invoice_id": other.invoice_id,
        "credit_note_id": other.credit_note_id,
        "entry_id": other.entry_id,
        "organisation_id": other.organisation_id,
        "upload_id": other.upload_id,
        "user_id": other.billing_contact.id,
    }
    secrets = {v for k, v in ids.items() if k not in {"org", "organisation_id"}}
    before = organisation_rows(world.container, other.organisation_id)
    operations = api_operations(world.app)
    assert len(operations) >= 30
    walked = []
    with world.client() as client:
        for user in (world.acme.client_admin, world.acme.billing_contact):
            headers = world.bearer(user)
            for method, path, staff_only in operations:
                relative = path.removeprefix(API)
                key = (method, relative)
                body = _fill(BODIES[key], ids) if key in BODIES else None
                if method in {"POST", "PATCH"} and key not in BODIES:
                    body = None
                params = _fill(QUERIES.get(key, {}), ids)
                url = path.format(**ids)
                response = client.request(
                    method, url, json=body, params=params, headers=headers, follow_redirects=False
                )
                walked.append((user.id, method, path, response.status_code))
                if staff_only:
                    assert response.status_code == 403, (user.id, method, path, response.text)
                    problem(response)
                elif "{" in path:
                    # 404, or the 403 the person's own role gets for any id: either way the
                    # answer is exactly the one for an id that does not exist.
                    assert response.status_code in {403, 404}, (user.id, method, path)
                    unknown = client.request(
                        method,
                        path.format(**dict.fromkeys(ids, "no-such-id")),
                        json=_fill(BODIES.get(key), {**ids, "upload": "no-such-id"}),
                        params=params,
                        headers=headers,
                    )
                    assert (unknown.status_code, problem(unknown)["detail"]) == (
                        response.status_code,
                        problem(response)["detail"],
                    ), (user.id, method, path)
                else:
                    assert response.status_code < 500, (method, path, response.text)
                    leaked = [s for s in secrets if s in response.text]
                    assert leaked == [], (method, path, leaked)
                    assert "Globex" not in response.text, (method, path)
    assert organisation_rows(world.container, other.organisation_id) == before
    assert len(walked) == 2 * len(operations)


def test_every_route_with_a_body_has_an_example_in_the_walk(world: World) -> None:
    """A new create or change route must be added to the walk's bodies, or it goes unwalked."""
    schema = world.app.openapi_schema
    assert schema.paths is not None
    missing = []
    for method, path, _ in api_operations(world.app):
        operation = getattr(schema.paths[path], method.lower())
        if operation.request_body is not None and (method, path.removeprefix(API)) not in BODIES:
            missing.append((method, path))
    assert missing == []


def test_a_client_calling_staff_routes_gets_403_and_nobody_signed_in_401(world: World) -> None:
    with world.client() as client:
        client_headers = world.bearer(world.acme.client_admin)
        for method, path, staff_only in api_operations(world.app):
            url = path.format(
                case_id=world.acme.case_id,
                attachment_id=world.acme.attachment_id,
                invoice_id=world.acme.invoice_id,
                credit_note_id=world.acme.credit_note_id,
                entry_id=world.acme.entry_id,
                organisation_id="acme",
                upload_id=world.acme.upload_id,
                user_id=world.acme.billing_contact.id,
            )
            anonymous = client.request(method, url, json={}, follow_redirects=False)
            assert anonymous.status_code == 401, (method, path)
            assert problem(anonymous)["status"] == 401
            if staff_only:
                refused = client.request(method, url, json={}, headers=client_headers)
                assert refused.status_code == 403, (method, path)


def test_a_client_cannot_choose_the_organisation_or_the_status_of_a_new_case(
    world: World,
) -> None:
    with world.client() as client:
        response = client.post(
            f"{API}/cases",
            json={
                "subject": "Payroll",
                "description": "",
                "organisation_id": "globex",
                "status": "closed",
                "reference": "C-999999",
            },
            headers=world.bearer(world.acme.client_admin),
        )
    assert response.status_code == 201, response.text
    case = response.json()["case"]
    assert case["organisation_id"] == "acme"
    assert case["status"] == CaseStatus.NEW
    assert case["reference"] != "C-999999"


def test_a_client_cannot_set_amounts_or_credit_invoices(world: World) -> None:
    before = organisation_rows(world.container, "acme")
    with world.client() as client:
        response = client.post(
            f"{API}/invoices/{world.acme.invoice_id}/credit-notes",
            json={"reason": "Discount please", "lines": [{"line_number": 1, "amount": "999.00"}]},
            headers=world.bearer(world.acme.client_admin),
        )
    assert response.status_code == 403
    assert organisation_rows(world.container, "acme") == before


@pytest.fixture
def fresh(tmp_path: Path) -> World:
    return build_world(tmp_path)


def _cookie_client(world: World, tmp_path: Path) -> Any:
    """A browser-like client: a real session cookie from signing in, and the CSRF cookie."""
    sign_in = world.container.sign_in
    link = sign_in.send_invitation(world.acme.client_admin.id, actor_id="ada")
    sign_in.accept_invitation(link.rsplit("/", 1)[1], "correct horse battery staple 42")
    signed_in = sign_in.sign_in(
        world.acme.client_admin.email, "correct horse battery staple 42", client_address="10.0.0.1"
    )
    client = world.client()
    client.cookies.set(session_cookie_name(settings_for(tmp_path)), signed_in.token)
    return client


NEW_CASE = {"subject": "Through the browser", "description": ""}


def test_cookie_sign_in_needs_the_csrf_token_and_bearer_tokens_do_not(
    fresh: World, tmp_path: Path
) -> None:
    with _cookie_client(fresh, tmp_path) as client:
        assert client.get(f"{API}/cases").status_code == 200  # safe: no token needed
        before = organisation_rows(fresh.container, "acme")
        missing = client.post(f"{API}/cases", json=NEW_CASE)
        assert missing.status_code == 403
        assert "CSRF" in problem(missing)["detail"]
        client.get("/")  # a page sets the CSRF cookie, as in the browser
        token = client.cookies.get("csrftoken")
        assert token
        forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
        refused = client.post(f"{API}/cases", json=NEW_CASE, headers={"X-CSRF-Token": forged})
        assert refused.status_code == 403
        assert organisation_rows(fresh.container, "acme") == before
        accepted = client.post(f"{API}/cases", json=NEW_CASE, headers={"X-CSRF-Token": token})
        assert accepted.status_code == 201, accepted.text
    with fresh.client() as client:
        bearer = client.post(
            f"{API}/cases", json=NEW_CASE, headers=fresh.bearer(fresh.acme.client_admin)
        )
        assert bearer.status_code == 201


def test_a_bearer_header_does_not_excuse_a_cookie_request_from_csrf_when_bearer_is_off(
    fresh: World, tmp_path: Path
) -> None:
    from attrs import evolve  # noqa: PLC0415

    from entrypoints.web import create_app  # noqa: PLC0415

    no_bearer = evolve(fresh, app=create_app(evolve(fresh.container, token_verifier=None)))
    with _cookie_client(no_bearer, tmp_path) as client:
        response = client.post(
            f"{API}/cases", json=NEW_CASE, headers={"Authorization": "Bearer anything"}
        )
        assert response.status_code == 403


def test_wrong_content_type_is_415_and_an_oversized_body_413(fresh: World) -> None:
    headers = fresh.bearer(fresh.acme.client_admin)
    before = organisation_rows(fresh.container, "acme")
    with fresh.client() as client:
        as_text = client.post(
            f"{API}/cases",
            content=b'{"subject": "x", "description": ""}',
            headers={**headers, "Content-Type": "text/plain"},
        )
        assert as_text.status_code == 415
        problem(as_text)
        as_form = client.post(
            f"{API}/cases", data={"subject": "x", "description": ""}, headers=headers
        )
        assert as_form.status_code == 415
        huge = b'{"subject": "x", "description": "' + b"a" * (2 * 1024 * 1024) + b'"}'
        too_large = client.post(
            f"{API}/cases", content=huge, headers={**headers, "Content-Type": "application/json"}
        )
        assert too_large.status_code == 413
        problem(too_large)
        broken = client.post(
            f"{API}/cases",
            content=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        )
        assert broken.status_code == 400
        problem(broken)
        invalid = client.post(f"{API}/cases", json={"subject": 3}, headers=headers)
        assert invalid.status_code == 400
        assert "errors" in problem(invalid)
    assert organisation_rows(fresh.container, "acme") == before


def test_a_cookie_replayed_after_sign_out_gets_401(fresh: World, tmp_path: Path) -> None:
    with _cookie_client(fresh, tmp_path) as client:
        assert client.get(f"{API}/cases").status_code == 200
        token = client.cookies.get(session_cookie_name(settings_for(tmp_path)))
        assert token is not None
        fresh.container.sign_in.sign_out(token)
        replayed = client.get(f"{API}/cases")
        assert replayed.status_code == 401
        problem(replayed)
