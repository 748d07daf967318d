"""The IdentityProvider contract suite (tests/contract/identity), run against local sign-in.

The tests are the shared suite's own, imported so that there is one suite; only the `identity`
fixture differs: here it is a `LocalIdentityProvider` on each storage backend. A sign-in is an
accepted invitation and a password; the "bad tokens" are what a local session cookie can be
instead of a live one.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from portal_core.identity.events import InvitationSent
from portal_core.identity.model import Session, token_digest
from portal_core.identity.service import LinkNotValid
from portal_core.organisations.model import User
from tests.contract.identity.conftest import IdentityHarness
from tests.contract.identity.test_identity_provider import *  # noqa: F403 (the shared suite)
from tests.contract.local_identity.conftest import PASSWORD, LocalSignIn


def _latest_invitation(local: LocalSignIn, user: User) -> str | None:
    with local.uow() as uow:
        sent = [
            m.event
            for m in uow.outbox.claim(limit=1000, now=local.clock.now(), lease=timedelta(0))
            if isinstance(m.event, InvitationSent) and m.event.user_id == user.id
        ]
    return sent[-1].link if sent else None


@pytest.fixture
def identity(local: LocalSignIn) -> IdentityHarness:
    used: set[str] = set()

    def sign_in(user: User) -> tuple[str, ...]:
        with local.uow() as uow:
            credential = uow.credentials.get(user.id)
        if credential is None or not credential.has_password:
            link = _latest_invitation(local, user)
            if link is not None and link not in used:
                used.add(link)
                with contextlib.suppress(LinkNotValid):  # then the sign-in below fails
                    local.service.accept_invitation(link.rsplit("/", 1)[1], PASSWORD)
        signed_in = local.service.sign_in(user.email, PASSWORD, client_address="192.0.2.10")
        return (signed_in.token,)

    def bad_token(user: User, kind: str) -> str:
        match kind:
            case "forged_signature":  # what a thief of the database holds: the stored digest
                return token_digest(sign_in(user)[0])
            case "expired":
                token = f"expired-{user.id}-session-token"
                long_ago = local.clock.now() - local.service.policy.absolute_lifetime
                with local.uow() as uow:
                    uow.sessions.add(
                        Session(
                            token_digest=token_digest(token),
                            user_id=user.id,
                            created_at=long_ago,
                            last_seen_at=long_ago,
                            idle_timeout=local.service.policy.idle_timeout,
                            absolute_lifetime=local.service.policy.absolute_lifetime,
                            second_factor_done=False,
                        )
                    )
                    uow.commit()
                return token
            case "wrong_token_use":  # a password-reset link presented as a session
                local.service.request_password_reset(user.email)
                return "reset-link-token-is-not-a-session"
            case "unknown_kid" | "wrong_issuer" | "wrong_audience":  # a session since ended
                token = sign_in(user)[0]
                local.service.sign_out(token)
                return token
            case "alg_none":
                return ""
            case _:
                return kind

    return IdentityHarness("local", local.provider, sign_in, bad_token, lambda u: sign_in(u)[0])
