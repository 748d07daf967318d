"""Who may open which page, through HTTP: signed-out visitors and expired sessions are sent to
sign in, another organisation's ids are "not found", clients are refused staff pages, and a
form without its CSRF token changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from attrs import define
from litestar import Litestar
from litestar.testing import TestClient

from adapters.memory import FixedClock, InMemoryFileStore, InMemoryStorage, SequentialIds
from adapters.memory.identity import InMemoryPasswordHasher, InMemoryTotpVerifier
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.web import create_app
from portal_core.cases.service import SubmitCase
from portal_core.organisations.model import Role, User
from portal_core.ports import CaseQuery
from tests.e2e.conftest import PEOPLE_PASSWORD, TEST_HOST, onboard_people, settings_for

PASSWORD = PEOPLE_PASSWORD
CSRF_COOKIE = "csrftoken"


@define
class Firm:
    """Two client organisations, their people, the firm's staff, and a case of each client."""

    container: Container
    clock: FixedClock
    totp: InMemoryTotpVerifier
    users: dict[str, User]
    cases: dict[str, str]

    def app(self) -> Litestar:
        return create_app(self.container)


def build_firm(
    tmp_path: Path, *, local_files: bool = False, port: int | None = None, **variables: str
) -> Firm:
    """The portal on in-memory storage with fast fakes for password hashing and TOTP; everyone
    has a password, set through their invitation link as a real person would. `local_files`:
    files on disk under `tmp_path`, served by the portal's own links, as in the embedded mode."""
    clock = FixedClock()
    totp = InMemoryTotpVerifier()
    if port:
        variables |= {"port": str(port), "base_url": f"http://127.0.0.1:{port}"}
    container = bootstrap(
        settings_for(tmp_path, **variables),
        clock=clock,
        ids=SequentialIds(),
        uow=InMemoryStorage().unit_of_work,
        files=None if local_files else InMemoryFileStore(clock),
        password_hasher=InMemoryPasswordHasher(),
        totp=totp,
    )
    people = {
        "alice": ("acme", Role.CLIENT_ADMIN),
        "victor": ("acme", Role.CLIENT_VIEWER),
        "bill": ("acme", Role.BILLING_CONTACT),
        "gina": ("globex", Role.CLIENT_ADMIN),
        "sam": (None, Role.STAFF),
        "ada": (None, Role.ADMIN),
    }
    users = onboard_people(container, people)
    cases = {
        owner: container.cases.submit(
            users[owner].as_principal(),
            SubmitCase(subject=f"{owner.title()}'s contract review", description="Please review."),
        ).id
        for owner in ("alice", "gina")
    }
    return Firm(container=container, clock=clock, totp=totp, users=users, cases=cases)


def browse(firm: Firm) -> TestClient[Litestar]:
    return TestClient(firm.app(), base_url=f"http://{TEST_HOST}")


def csrf(client: TestClient[Litestar]) -> str:
    """The CSRF token a page's forms carry (set by the first page the browser opens)."""
    if client.cookies.get(CSRF_COOKIE) is None:
        client.get("/sign-in")
    token = client.cookies.get(CSRF_COOKIE)
    assert token
    return token


def sign_in(client: TestClient[Litestar], email: str, **extra: str) -> Any:
    return client.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD, "_csrf_token": csrf(client), **extra},
        follow_redirects=False,
    )


def signed_in(firm: Firm, name: str) -> TestClient[Litestar]:
    client = browse(firm)
    response = sign_in(client, firm.users[name].email)
    assert response.status_code == 303, response.text
    return client


def history(firm: Firm, owner: str) -> tuple[Any, ...]:
    principal = firm.users["sam"].as_principal()
    detail = firm.container.cases.get_case(principal, firm.cases[owner])
    return (detail.case, detail.timeline, detail.attachments)


def count_cases(firm: Firm, name: str) -> int:
    return firm.container.cases.list_cases(firm.users[name].as_principal(), CaseQuery()).total


@pytest.fixture
def firm(tmp_path: Path) -> Firm:
    return build_firm(tmp_path)


@pytest.fixture
def alice(firm: Firm) -> Iterator[TestClient[Litestar]]:
    with signed_in(firm, "alice") as client:
        yield client


# --- signed out, expired -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/dashboard", "/cases", "/cases/new", "/invoices", "/staff/queue", "/admin/organisations"],
)
def test_signed_out_visitors_are_sent_to_sign_in_and_back(firm: Firm, path: str) -> None:
    with browse(firm) as client:
        response = client.get(f"{path}?page=1", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == f"/sign-in?next={path}%3Fpage%3D1"


def test_an_expired_session_is_sent_to_sign_in_and_signing_in_returns_to_the_page(
    firm: Firm, alice: TestClient[Litestar]
) -> None:
    case_path = f"/cases/{firm.cases['alice']}"
    assert alice.get(case_path).status_code == 200

    firm.clock.advance(timedelta(minutes=31))
    response = alice.get(case_path, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == f"/sign-in?next={case_path}"
    again = sign_in(alice, firm.users["alice"].email, next=case_path)
    assert again.headers["location"] == case_path


def test_the_api_keeps_answering_401_problems_to_signed_out_callers(firm: Firm) -> None:
    with browse(firm) as client:
        response = client.get("/api/v1/cases", follow_redirects=False)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


# --- other organisations, roles ---------------------------------------------------------------


def test_another_organisations_case_is_not_found_and_stays_unchanged(
    firm: Firm, alice: TestClient[Litestar]
) -> None:
    theirs = firm.cases["gina"]
    before = history(firm, "gina")
    token = csrf(alice)

    pages = [alice.get(f"/cases/{theirs}"), alice.get(f"/cases/{theirs}/submitted")]
    posts = [
        alice.post(f"/cases/{theirs}/comments", data={"body": "hello", "_csrf_token": token}),
        alice.post(f"/cases/{theirs}/status", data={"status": "closed", "_csrf_token": token}),
    ]

    for response in [*pages, *posts]:
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text
        assert "Gina" not in response.text
    assert history(firm, "gina") == before
    # And an id that exists nowhere looks exactly the same.
    assert alice.get("/cases/no-such-case").text == pages[0].text


def test_a_client_is_refused_the_staff_and_admin_pages(
    firm: Firm, alice: TestClient[Litestar]
) -> None:
    own = firm.cases["alice"]
    before = history(firm, "alice")
    token = csrf(alice)

    gets = [
        alice.get(path)
        for path in (
            "/staff/queue",
            f"/staff/cases/{own}",
            "/staff/invoices",
            "/admin/organisations",
        )
    ]
    posts = [
        alice.post(
            f"/staff/cases/{own}/comments",
            data={"body": "note", "visibility": "internal", "_csrf_token": token},
        ),
        alice.post(f"/staff/cases/{own}/assignment", data={"assignee": "me", "_csrf_token": token}),
        alice.post("/admin/organisations", data={"name": "Sneaky Ltd", "_csrf_token": token}),
    ]

    for response in [*gets, *posts]:
        assert response.status_code == 403
        assert "You cannot do this" in response.text
    assert history(firm, "alice") == before
    names = [
        o.name
        for o in firm.container.onboarding.list_organisations(firm.users["ada"].as_principal())
    ]
    assert "Sneaky Ltd" not in names


def test_a_viewer_sees_cases_but_is_offered_no_forms_and_cannot_comment(firm: Firm) -> None:
    own = firm.cases["alice"]
    before = history(firm, "alice")
    with signed_in(firm, "victor") as victor:
        page = victor.get(f"/cases/{own}")
        refused = victor.post(
            f"/cases/{own}/comments", data={"body": "hi", "_csrf_token": csrf(victor)}
        )

    assert page.status_code == 200
    assert "Add a comment" not in page.text
    assert refused.status_code == 403
    assert history(firm, "alice") == before


# --- CSRF ----------------------------------------------------------------------------------------


def test_forms_without_a_valid_csrf_token_change_nothing(
    firm: Firm, alice: TestClient[Litestar]
) -> None:
    own = firm.cases["alice"]
    before = history(firm, "alice")
    cases_before = count_cases(firm, "alice")

    attempts = [
        alice.post(f"/cases/{own}/comments", data={"body": "no token"}),
        alice.post(f"/cases/{own}/comments", data={"body": "forged", "_csrf_token": "forged"}),
        alice.post("/cases/new", data={"subject": "S", "description": "D"}),
        alice.post(f"/cases/{own}/status", data={"status": "closed", "_csrf_token": "x" * 64}),
    ]

    for response in attempts:
        assert response.status_code == 403
        assert "did not come from this site" in response.text
    assert history(firm, "alice") == before
    cases_after = count_cases(firm, "alice")
    assert cases_after == cases_before
    # Still signed in: a refused form does not end the session.
    assert alice.get("/dashboard").status_code == 200


def test_another_sessions_csrf_token_is_refused(firm: Firm, alice: TestClient[Litestar]) -> None:
    with signed_in(firm, "gina") as gina:
        stolen = csrf(gina)
    before = history(firm, "alice")

    response = alice.post(
        f"/cases/{firm.cases['alice']}/comments", data={"body": "x", "_csrf_token": stolen}
    )

    assert response.status_code == 403
    assert history(firm, "alice") == before


# --- signing in -----------------------------------------------------------------------------


def test_every_sign_in_failure_gets_the_same_message(firm: Firm) -> None:
    with browse(firm) as client:
        token = csrf(client)
        wrong_password = client.post(
            "/sign-in",
            data={"email": "alice@acme.example", "password": "nope", "_csrf_token": token},
        )
        unknown = client.post(
            "/sign-in",
            data={"email": "nobody@acme.example", "password": PASSWORD, "_csrf_token": token},
        )

    for response in (wrong_password, unknown):
        assert response.status_code == 400
        assert "The e-mail address, password or authenticator code is not right." in response.text
    assert 'value="nobody@acme.example"' in unknown.text


def test_sign_in_rotates_the_session_and_sign_out_ends_it(firm: Firm) -> None:
    with browse(firm) as client:
        sign_in(client, "alice@acme.example")
        first = client.cookies.get("portal_session")
        sign_in(client, "alice@acme.example")
        second = client.cookies.get("portal_session")
        assert first
        assert second
        assert first != second

        client.post("/sign-out", data={"_csrf_token": csrf(client)})

    with browse(firm) as replay:
        for token in (first, second):
            replay.cookies.set("portal_session", token or "")
            assert replay.get("/dashboard", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "cases"],
)
def test_sign_in_returns_only_to_a_page_of_this_site(firm: Firm, target: str) -> None:
    with browse(firm) as client:
        response = sign_in(client, "alice@acme.example", next=target)

    assert response.headers["location"] == "/dashboard"


def test_too_many_failures_pause_sign_in_with_the_time_to_wait(tmp_path: Path) -> None:
    # The per-address request limit (operations) is raised, to reach the account's own limit.
    firm = build_firm(tmp_path, sign_in_rate_limit_per_minute="1000")
    policy = firm.container.sign_in.policy.throttle
    with browse(firm) as client:
        token = csrf(client)
        for _ in range(policy.failures_per_account):
            client.post(
                "/sign-in",
                data={"email": "alice@acme.example", "password": "x", "_csrf_token": token},
            )
        response = client.post(
            "/sign-in",
            data={"email": "alice@acme.example", "password": PASSWORD, "_csrf_token": token},
        )

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many sign-in attempts" in response.text


def test_once_an_authenticator_is_set_up_sign_in_needs_its_code(firm: Firm) -> None:
    with signed_in(firm, "alice") as alice:
        started = alice.post("/account/second-factor/start", data={"_csrf_token": csrf(alice)})
        secret = re.search(r'id="totp-secret"><code>([^<]+)</code>', started.text)
        assert secret is not None
        code = firm.totp.code_at(secret.group(1), firm.clock.now())
        confirmed = alice.post(
            "/account/second-factor/confirm",
            data={"code": code, "_csrf_token": csrf(alice)},
            follow_redirects=False,
        )
        assert confirmed.status_code == 303

    firm.clock.advance(timedelta(minutes=1))
    with browse(firm) as client:
        without = sign_in(client, "alice@acme.example")
        fresh = firm.totp.code_at(secret.group(1), firm.clock.now())
        with_code = sign_in(client, "alice@acme.example", code=fresh)

    assert without.status_code == 400
    assert with_code.status_code == 303


def test_sign_in_attempts_from_one_address_meet_the_stricter_request_limit(firm: Firm) -> None:
    limit = firm.container.settings.sign_in_rate_limit_per_minute
    with browse(firm) as client:
        token = csrf(client)
        answers = [
            client.post(
                "/sign-in",
                data={"email": "alice@acme.example", "password": "x", "_csrf_token": token},
            ).status_code
            for _ in range(limit + 1)
        ]
        page = client.get("/sign-in")

    assert answers[:limit] == [400] * limit
    assert answers[limit] == 429
    assert page.status_code == 200, "showing the form is not an attempt"


def test_a_form_sent_after_the_session_ended_returns_to_its_page_after_sign_in(
    firm: Firm, alice: TestClient[Litestar]
) -> None:
    case_path = f"/cases/{firm.cases['alice']}"
    token = csrf(alice)
    firm.clock.advance(timedelta(hours=13))

    response = alice.post(
        f"{case_path}/comments",
        data={"body": "late", "_csrf_token": token},
        headers={"Referer": f"http://{TEST_HOST}{case_path}"},
        follow_redirects=False,
    )
    forged_referer = alice.post(
        f"{case_path}/comments",
        data={"body": "late", "_csrf_token": token},
        headers={"Referer": f"http://evil.example{case_path}"},
        follow_redirects=False,
    )

    assert response.headers["location"] == f"/sign-in?next={case_path}"
    assert forged_referer.headers["location"] == "/sign-in"


def test_another_organisations_file_is_not_found(firm: Firm) -> None:
    with signed_in(firm, "gina") as gina:
        response = gina.get(f"/cases/{firm.cases['alice']}/files/any-file")

    assert response.status_code == 404
