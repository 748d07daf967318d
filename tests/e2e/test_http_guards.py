"""Every route is guarded or explicitly public, and the guards know who is asking."""

from __future__ import annotations

from pathlib import Path

import pytest
from attrs import evolve
from litestar import Litestar, get
from litestar.routes import HTTPRoute, WebSocketRoute
from litestar.testing import TestClient

from adapters.memory import InMemoryIdentityProvider, InMemoryStorage
from entrypoints.web import create_app
from entrypoints.web.auth import (
    GUARDS,
    requires_admin,
    requires_signed_in,
    requires_staff,
    session_cookie_name,
)
from entrypoints.web.dependencies import SignedInPrincipal
from portal_core.organisations.model import Organisation, Principal, Role, User
from portal_core.ports import AuthenticationFailed
from tests.e2e.conftest import TEST_HOST, container_on_fakes, settings_for


def unguarded_routes(app: Litestar) -> list[str]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute | WebSocketRoute):
            continue
        handlers = route.route_handlers if isinstance(route, HTTPRoute) else [route.route_handler]
        for handler in handlers:
            if getattr(handler, "http_methods", None) == {"OPTIONS"}:
                continue  # Litestar's own preflight answer: it lists methods, reads nothing
            guards = [g for layer in handler.ownership_layers for g in (layer.guards or ())]
            guarded = any(guard in GUARDS for guard in guards)
            public = bool(handler.opt.get("public"))
            if not guarded and not public:
                found.append(f"{sorted(getattr(handler, 'http_methods', ['WS']))} {route.path}")
    return found


@get("/whoami", guards=[requires_signed_in], sync_to_thread=False)
def whoami(principal: SignedInPrincipal) -> dict[str, str]:
    return {"user": principal.user_id, "organisation": principal.organisation_id or ""}


@get("/staff-only", guards=[requires_staff], sync_to_thread=False)
def staff_only() -> dict[str, str]:
    return {"ok": "staff"}


@get("/admin-only", guards=[requires_admin], sync_to_thread=False)
def admin_only() -> dict[str, str]:
    return {"ok": "admin"}


@get("/forgot-its-guard", sync_to_thread=False)
def forgot_its_guard() -> str:
    return "open"


def test_every_route_of_the_portal_is_guarded_or_marked_public(tmp_path: Path) -> None:
    app = create_app(container_on_fakes(settings_for(tmp_path)))
    assert len([r for r in app.routes if isinstance(r, HTTPRoute)]) > 3
    assert unguarded_routes(app) == []


def test_the_guard_check_finds_a_route_without_a_guard(tmp_path: Path) -> None:
    app = create_app(
        container_on_fakes(settings_for(tmp_path)), route_handlers=[forgot_its_guard, whoami]
    )
    assert [route.rsplit(" ", 1)[1] for route in unguarded_routes(app)] == ["/forgot-its-guard"]


@pytest.fixture
def people(tmp_path: Path) -> tuple[TestClient[Litestar], dict[str, str]]:
    storage = InMemoryStorage()
    identity = InMemoryIdentityProvider()
    container = container_on_fakes(settings_for(tmp_path), uow=storage.unit_of_work)
    container = evolve(container, token_verifier=identity)
    now = container.clock.now()
    client_user = User(
        id="ann",
        email="ann@acme.example",
        name="Ann",
        organisation_id="acme",
        roles=frozenset({Role.CLIENT_ADMIN}),
        created_at=now,
    )
    staff_user = User(
        id="sam",
        email="sam@firm.example",
        name="Sam",
        organisation_id=None,
        roles=frozenset({Role.STAFF}),
        created_at=now,
    )
    with storage.unit_of_work() as uow:
        uow.organisations.add(Organisation(id="acme", name="Acme", created_at=now))
        uow.users.add(client_user)
        uow.users.add(staff_user)
        uow.commit()
    tokens = {"ann": identity.issue_token(client_user), "sam": identity.issue_token(staff_user)}
    app = create_app(container, route_handlers=[whoami, staff_only, admin_only])
    return TestClient(app, base_url=f"http://{TEST_HOST}"), tokens


def test_nobody_signed_in_gets_401_and_the_wrong_role_403(
    people: tuple[TestClient[Litestar], dict[str, str]],
) -> None:
    client, tokens = people
    with client:
        assert client.get("/whoami").status_code == 401
        assert client.get("/whoami", headers={"Authorization": "Bearer forged"}).status_code == 401
        ann = {"Authorization": f"Bearer {tokens['ann']}"}
        assert client.get("/whoami", headers=ann).json() == {"user": "ann", "organisation": "acme"}
        assert client.get("/staff-only", headers=ann).status_code == 403
        sam = {"Authorization": f"Bearer {tokens['sam']}"}
        assert client.get("/staff-only", headers=sam).json() == {"ok": "staff"}
        assert client.get("/admin-only", headers=sam).status_code == 403


def test_an_unknown_session_cookie_counts_as_signed_out(
    people: tuple[TestClient[Litestar], dict[str, str]], tmp_path: Path
) -> None:
    client, _ = people
    with client:
        client.cookies.set(session_cookie_name(settings_for(tmp_path)), "not-a-session")
        assert client.get("/whoami").status_code == 401


class CountingSignIn:
    """Stands in for the sign-in service and counts the session lookups."""

    def __init__(self) -> None:
        self.lookups = 0

    def recently_resolved(self, token: str) -> Principal | None:
        self.lookups += 1
        return None

    def resolve(self, token: str) -> Principal:
        self.lookups += 1
        raise AuthenticationFailed("unknown session")


def test_assets_and_probes_never_look_up_the_session_pages_do(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    counting = CountingSignIn()
    container = evolve(container_on_fakes(settings), sign_in=counting)
    with TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as client:
        client.cookies.set(session_cookie_name(settings), "a-session")
        assert client.get("/static/portal.css").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert counting.lookups == 0
        client.get("/")
        assert counting.lookups == 2  # the in-memory look first, then the database
