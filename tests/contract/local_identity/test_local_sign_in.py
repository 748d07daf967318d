"""The local sign-in contract: the same behaviour on every storage, with real argon2 and TOTP."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from attrs import evolve

from adapters.local.identity import Argon2PasswordHasher, PyotpTotpVerifier
from portal_core.identity.model import token_digest
from portal_core.identity.service import (
    SIGN_IN_FAILED,
    LinkNotValid,
    SignedIn,
    SignInThrottled,
)
from portal_core.organisations.model import Role
from portal_core.ports import AuthenticationFailed
from tests.contract.local_identity.conftest import PASSWORD, LocalSignIn, fast_hasher, make_user

ANN = make_user("ann", "acme", Role.CLIENT_ADMIN)
ADDRESS = "203.0.113.7"


def sign_in(local: LocalSignIn, password: str = PASSWORD, **kw: str | None) -> SignedIn:
    return local.service.sign_in(
        "ann@example.com",
        password,
        client_address=ADDRESS,
        totp_code=kw.get("totp_code"),
        previous_token=kw.get("previous_token"),
    )


# --- the adapters themselves ---------------------------------------------------------------------


def test_passwords_are_stored_as_salted_argon2id_hashes() -> None:
    hasher = fast_hasher()
    first, second = hasher.hash(PASSWORD), hasher.hash(PASSWORD)
    assert first.startswith("$argon2id$")
    assert first != second
    assert hasher.verify(PASSWORD, first)
    assert not hasher.verify(PASSWORD + " ", first)
    assert not hasher.verify(PASSWORD, "not a hash")
    assert not hasher.verify(PASSWORD, "$argon2id$v=19$m=1024,t=1,p=1$broken")


def test_hashes_made_with_weaker_costs_need_rehashing() -> None:
    weak = fast_hasher().hash(PASSWORD)
    stronger = Argon2PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert stronger.needs_rehash(weak)
    assert not stronger.needs_rehash(stronger.hash(PASSWORD))
    assert stronger.needs_rehash("fake$1$0123")


def test_a_totp_code_matches_its_own_step_and_one_either_side_only(local: LocalSignIn) -> None:
    totp = PyotpTotpVerifier()
    secret = totp.new_secret()
    now = local.clock.now()
    step = totp.matching_step(secret, totp.code_at(secret, now), at=now)
    assert step is not None
    for offset in (-1, 1):
        moment = now + timedelta(seconds=30 * offset)
        assert totp.matching_step(secret, totp.code_at(secret, moment), at=now) == step + offset
    for offset in (-2, 2):
        moment = now + timedelta(seconds=30 * offset)
        assert totp.matching_step(secret, totp.code_at(secret, moment), at=now) is None
    assert totp.matching_step(secret, "abcdef", at=now) is None
    uri = totp.provisioning_uri(secret, account="ann@example.com", issuer="Client portal")
    assert uri.startswith("otpauth://totp/")
    assert f"secret={secret}" in uri


# --- sign-in over every storage ------------------------------------------------------------------


def test_an_invited_contact_signs_in_and_the_session_names_them(local: LocalSignIn) -> None:
    local.join(ANN)
    signed_in = sign_in(local)
    assert local.provider.verify(signed_in.token) == ANN.as_principal()
    assert len(signed_in.token) >= 43  # 256 bits, URL-safe


def test_wrong_password_and_unknown_user_give_the_same_answer(local: LocalSignIn) -> None:
    local.join(ANN)
    answers = []
    for email, password in (("ann@example.com", "wrong password!"), ("no@example.com", PASSWORD)):
        with pytest.raises(AuthenticationFailed) as failed:
            local.service.sign_in(email, password, client_address=ADDRESS)
        answers.append((type(failed.value), str(failed.value)))
    assert answers == [(AuthenticationFailed, SIGN_IN_FAILED)] * 2


def test_the_old_session_is_dead_after_signing_in_again(local: LocalSignIn) -> None:
    local.join(ANN)
    first = sign_in(local)
    second = sign_in(local, previous_token=first.token)
    with pytest.raises(AuthenticationFailed):
        local.provider.verify(first.token)
    assert local.provider.verify(second.token).user_id == "ann"


def test_sign_out_and_expiry_make_a_replayed_token_fail(local: LocalSignIn) -> None:
    local.join(ANN)
    signed_out = sign_in(local)
    local.service.sign_out(signed_out.token)
    idle = sign_in(local)
    local.clock.advance(local.service.policy.idle_timeout)
    for token in (signed_out.token, idle.token):
        with pytest.raises(AuthenticationFailed):
            local.provider.verify(token)


def test_a_session_lives_on_with_activity_but_never_past_its_absolute_lifetime(
    local: LocalSignIn,
) -> None:
    local.join(ANN)
    signed_in = sign_in(local)
    policy = local.service.policy
    steps = int(policy.absolute_lifetime / (policy.idle_timeout / 2))
    for _ in range(steps - 1):
        local.clock.advance(policy.idle_timeout / 2)
        local.provider.verify(signed_in.token)
    local.clock.set(signed_in.session.created_at + policy.absolute_lifetime)
    with pytest.raises(AuthenticationFailed):
        local.provider.verify(signed_in.token)


def test_disabling_a_user_ends_their_sessions_and_voids_their_links(local: LocalSignIn) -> None:
    local.join(ANN)
    signed_in = sign_in(local)
    ivy = make_user("ivy", "acme", Role.CLIENT_VIEWER)
    link = local.provider.invite(ivy)
    assert link is not None
    local.provider.disable("ann")
    local.provider.disable("ivy")
    with pytest.raises(AuthenticationFailed):
        local.provider.verify(signed_in.token)
    with pytest.raises(AuthenticationFailed):
        sign_in(local)
    with pytest.raises(LinkNotValid):
        local.service.accept_invitation(link.rsplit("/", 1)[1], "a good long passphrase")
    assert local.service.sessions_of("ann") == []


def test_only_digests_of_tokens_reach_the_storage(local: LocalSignIn) -> None:
    local.join(ANN)
    signed_in = sign_in(local)
    with local.uow() as uow:
        assert uow.sessions.get(signed_in.token) is None
        stored = uow.sessions.get(token_digest(signed_in.token))
    assert stored == signed_in.session


def test_a_reset_link_sets_a_new_password_once(local: LocalSignIn) -> None:
    local.join(ANN)
    before = sign_in(local)
    local.service.request_password_reset("ann@example.com")
    local.service.request_password_reset("nobody@example.com")
    with local.uow() as uow:
        links = [
            m.event.link  # type: ignore[attr-defined]
            for m in uow.outbox.claim(limit=10, now=local.clock.now(), lease=timedelta(minutes=1))
            if m.event.kind == "password_reset_requested"
        ]
    assert len(links) == 1
    token = links[0].rsplit("/", 1)[1]
    local.service.complete_password_reset(token, "a brand new passphrase")
    with pytest.raises(LinkNotValid):
        local.service.complete_password_reset(token, "yet another passphrase")
    with pytest.raises(AuthenticationFailed):
        local.provider.verify(before.token)
    sign_in(local, "a brand new passphrase")


def test_totp_is_required_once_enrolled_and_a_code_works_once(local: LocalSignIn) -> None:
    local.join(ANN)
    enrolment = local.service.begin_totp_enrolment(ANN.as_principal())
    local.service.confirm_totp(
        ANN.as_principal(), local.totp.code_at(enrolment.secret, local.clock.now())
    )
    local.clock.advance(timedelta(seconds=30))
    with pytest.raises(AuthenticationFailed):
        sign_in(local)
    code = local.totp.code_at(enrolment.secret, local.clock.now())
    assert sign_in(local, totp_code=code).session.second_factor_done
    with pytest.raises(AuthenticationFailed):
        sign_in(local, totp_code=code)


def test_the_101st_wrong_password_in_an_hour_is_throttled_whatever_the_address(
    local: LocalSignIn,
) -> None:
    local.join(ANN)
    for attempt in range(100):
        local.clock.advance(timedelta(seconds=30))
        with pytest.raises(AuthenticationFailed) as failed:
            local.service.sign_in(
                "ann@example.com", "wrong password!", client_address=f"10.0.{attempt}.1"
            )
        assert not isinstance(failed.value, SignInThrottled)
    with pytest.raises(SignInThrottled):
        local.service.sign_in("ANN@example.com", PASSWORD, client_address="192.0.2.99")
    local.clock.advance(timedelta(minutes=11))  # the first failures leave the hour
    assert sign_in(local).principal.user_id == "ann"


def test_an_invitation_link_used_twice_at_once_works_once(local: LocalSignIn) -> None:
    link = local.provider.invite(ANN)
    assert link is not None
    token = link.rsplit("/", 1)[1]
    results: list[str] = []

    def accept(password: str) -> None:
        try:
            local.service.accept_invitation(token, password)
            results.append(password)
        except LinkNotValid:
            results.append("refused")

    threads = [threading.Thread(target=accept, args=(f"passphrase number {n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [winner] = [r for r in results if r != "refused"]
    assert results.count("refused") == 3
    sign_in(local, winner)


def test_inviting_again_changes_roles_and_keeps_the_password(local: LocalSignIn) -> None:
    local.join(ANN)
    viewer = evolve(ANN, roles=frozenset({Role.CLIENT_VIEWER}))
    assert local.provider.invite(viewer) is None
    assert sign_in(local).principal.roles == frozenset({Role.CLIENT_VIEWER})
