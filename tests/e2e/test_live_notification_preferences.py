"""The e-mail preferences page: a person turns kinds off and on; security mails stay on."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.testing import TestClient

from adapters.memory import FixedClock, InMemoryFileStore, InMemoryStorage, SequentialIds
from adapters.memory.identity import InMemoryPasswordHasher, InMemoryTotpVerifier
from entrypoints.bootstrap import bootstrap
from entrypoints.web import create_app
from entrypoints.web.auth import session_cookie_name
from portal_core.notifications import NotificationKind
from portal_core.organisations.model import Organisation, Role, User
from tests.e2e.conftest import TEST_HOST, settings_for

PASSWORD = "tangerine-otter-lighthouse-47"


def test_a_client_turns_status_mails_off_and_security_mails_stay_on(tmp_path: Path) -> None:
    clock = FixedClock()
    container = bootstrap(
        settings_for(tmp_path),
        clock=clock,
        ids=SequentialIds(),
        uow=InMemoryStorage().unit_of_work,
        files=InMemoryFileStore(clock),
        password_hasher=InMemoryPasswordHasher(),
        totp=InMemoryTotpVerifier(),
    )
    ann = User(
        id="ann",
        email="ann@acme.example",
        name="Ann",
        organisation_id="acme",
        roles=frozenset({Role.CLIENT_ADMIN}),
        created_at=clock.now(),
    )
    with container.uow() as uow:
        uow.organisations.add(Organisation(id="acme", name="Acme Ltd", created_at=clock.now()))
        uow.commit()
    link = container.sign_in.admit(ann, actor_id="test-setup")
    assert link is not None
    container.sign_in.accept_invitation(link.rsplit("/", 1)[1], PASSWORD)
    token = container.sign_in.sign_in(ann.email, PASSWORD, client_address="127.0.0.1").token

    with TestClient(create_app(container), base_url=f"http://{TEST_HOST}") as client:
        signed_out = client.get("/account/notifications", follow_redirects=False)
        assert signed_out.headers["location"].startswith("/sign-in")
        client.cookies.set(session_cookie_name(container.settings), token)
        page = client.get("/account/notifications")
        assert page.status_code == 200
        assert 'value="case_status_changed" checked' in page.text
        assert "Password reset links" in page.text
        assert 'value="password_reset"' not in page.text  # not a choice

        kept = [k.value for k in NotificationKind if k.value not in ("case_status_changed",)]
        saved = client.post(
            "/account/notifications",
            data={"wanted": kept, "_csrf_token": client.cookies["csrftoken"]},
            follow_redirects=True,
        )
        assert saved.status_code == 200
        assert "Your e-mail choices are saved." in saved.text
        assert re.search(r'value="case_status_changed"\s*>', saved.text)

        refused = client.post("/account/notifications", data={"wanted": kept})
        assert refused.status_code == 403  # no CSRF token, nothing changed

    preferences = container.notification_preferences.get(ann.as_principal())
    assert not preferences.wants(NotificationKind.CASE_STATUS_CHANGED)
    assert preferences.wants(NotificationKind.CASE_REPLY)
    assert preferences.wants(NotificationKind.PASSWORD_RESET)
