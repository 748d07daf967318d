"""Signing in and out, sessions and their lifetimes, through the SignInService on fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from attrs import evolve

from portal_core.identity.model import AttemptOutcome, Credential, token_digest
from portal_core.identity.service import (
    SIGN_IN_FAILED,
    SignedIn,
    SignInPolicy,
    SignInThrottled,
)
from portal_core.ports import AuthenticationFailed
from tests.unit.identity.builders import PASSWORD, World, make_world

ADDRESS = "203.0.113.7"


@pytest.fixture
def world() -> World:
    return make_world()


def sign_in(
    world: World,
    email: str = "ann@example.com",
    password: str = PASSWORD,
    *,
    client_address: str = ADDRESS,
    previous_token: str | None = None,
) -> SignedIn:
    return world.service.sign_in(
        email, password, client_address=client_address, previous_token=previous_token
    )


def failure(world: World, email: str, password: str = "not the password") -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        sign_in(world, email, password)
    return caught.value


def test_the_right_password_opens_a_session_that_names_the_user(world: World) -> None:
    signed_in = sign_in(world, "  ANN@example.com ")
    assert signed_in.principal == world.ann.as_principal()
    assert world.service.resolve(signed_in.token) == world.ann.as_principal()
    assert not signed_in.session.second_factor_done


def test_only_a_digest_of_the_session_token_is_stored(world: World) -> None:
    signed_in = sign_in(world)
    stored = world.storage.state.sessions
    assert list(stored) == [token_digest(signed_in.token)]
    assert signed_in.token not in repr(world.storage.state)


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password_after_a_password_check(
    world: World,
) -> None:
    wrong_password = failure(world, "ann@example.com")
    checks_after_wrong_password = world.hasher.verifications
    unknown_user = failure(world, "nobody@example.com")
    assert type(unknown_user) is type(wrong_password) is AuthenticationFailed
    assert str(unknown_user) == str(wrong_password) == SIGN_IN_FAILED
    # The unknown address was checked against a dummy hash, as slowly as a real one.
    assert world.hasher.verifications == checks_after_wrong_password + 1


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ivy@example.com", PASSWORD),  # invited, no password yet
        ("ann@example.com", ""),
        ("ann@example.com", PASSWORD.upper()),
    ],
)
def test_every_other_failure_looks_the_same(world: World, email: str, password: str) -> None:
    assert str(failure(world, email, password)) == SIGN_IN_FAILED


def test_an_overlong_password_fails_unhashed_and_still_counts_against_the_budget(
    world: World,
) -> None:
    huge = "x" * 1_000_000
    assert str(failure(world, "ann@example.com", huge)) == SIGN_IN_FAILED
    assert world.hasher.verifications == 0
    outcomes = [a.outcome for a in world.storage.state.sign_in_attempts.values()]
    assert outcomes == [AttemptOutcome.FAILED]


def test_a_disabled_user_cannot_sign_in_even_with_the_right_password(world: World) -> None:
    with world.storage.unit_of_work() as uow:
        uow.users.update(evolve(world.ann, active=False))
        uow.commit()
    assert str(failure(world, "ann@example.com", PASSWORD)) == SIGN_IN_FAILED


def test_signing_in_ends_the_session_the_browser_came_with(world: World) -> None:
    first = sign_in(world)
    second = sign_in(world, previous_token=first.token)
    assert second.token != first.token
    with pytest.raises(AuthenticationFailed):
        world.service.resolve(first.token)
    assert world.service.resolve(second.token) == world.ann.as_principal()


def test_a_failed_sign_in_leaves_the_presented_session_alone(world: World) -> None:
    first = sign_in(world)
    with pytest.raises(AuthenticationFailed):
        sign_in(world, password="wrong password!", previous_token=first.token)
    assert world.service.resolve(first.token) == world.ann.as_principal()


def test_signing_out_makes_a_replayed_token_fail(world: World) -> None:
    signed_in = sign_in(world)
    world.service.sign_out(signed_in.token)
    with pytest.raises(AuthenticationFailed):
        world.service.resolve(signed_in.token)
    world.service.sign_out(signed_in.token)  # twice is harmless


def test_a_session_idle_for_longer_than_the_idle_timeout_is_dead(world: World) -> None:
    signed_in = sign_in(world)
    idle = world.service.policy.idle_timeout
    world.clock.advance(idle - timedelta(seconds=1))
    world.service.resolve(signed_in.token)
    world.clock.advance(idle - timedelta(seconds=1))
    world.service.resolve(signed_in.token)  # each request restarts the idle timer
    world.clock.advance(idle)
    with pytest.raises(AuthenticationFailed):
        world.service.resolve(signed_in.token)
    assert world.storage.state.sessions == {}


def test_activity_never_keeps_a_session_beyond_its_absolute_lifetime(world: World) -> None:
    signed_in = sign_in(world)
    policy = world.service.policy
    step = policy.idle_timeout / 2
    elapsed = timedelta(0)
    while elapsed + step < policy.absolute_lifetime:
        world.clock.advance(step)
        elapsed += step
        world.service.resolve(signed_in.token)
    world.clock.advance(policy.absolute_lifetime - elapsed)
    with pytest.raises(AuthenticationFailed):
        world.service.resolve(signed_in.token)


def test_disabling_a_user_kills_their_sessions_at_once(world: World) -> None:
    signed_in = sign_in(world)
    with world.storage.unit_of_work() as uow:
        uow.users.update(evolve(world.ann, active=False))
        uow.commit()
    with pytest.raises(AuthenticationFailed):
        world.service.resolve(signed_in.token)
    assert world.storage.state.sessions == {}


def test_revoking_a_users_sessions_ends_all_of_them_and_is_audited(world: World) -> None:
    tokens = [sign_in(world).token for _ in range(3)]
    other = sign_in(world, "ada@example.com").token
    assert world.service.revoke_sessions("ann", actor_id="ada", reason="lost laptop") == 3
    for token in tokens:
        with pytest.raises(AuthenticationFailed):
            world.service.resolve(token)
    assert world.service.resolve(other).user_id == "ada"
    last = world.storage.state.audit[-1].record
    assert (last.action, last.actor_id, last.details["count"]) == ("sessions_revoked", "ada", "3")


def test_each_sign_in_is_audited_without_any_secret(world: World) -> None:
    signed_in = sign_in(world)
    record = world.storage.state.audit[-1].record
    assert (record.action, record.subject_id, record.details) == (
        "user_signed_in",
        "ann",
        {"client_address": ADDRESS},
    )
    assert signed_in.token not in repr(world.storage.state.audit)


def test_a_weaker_hash_is_replaced_at_the_next_sign_in(world: World) -> None:
    world.hasher.version = 2
    sign_in(world)
    stored = world.storage.state.credentials["ann"].password_hash
    assert stored is not None
    assert not world.hasher.needs_rehash(stored)
    sign_in(world)


def test_secrets_never_appear_in_a_credentials_repr() -> None:
    credential = Credential(user_id="u", password_hash="HASH", totp_secret="TOTPSECRET")
    assert "HASH" not in repr(credential)
    assert "TOTPSECRET" not in repr(credential)


# --- throttling -------------------------------------------------------------------------------


def test_the_101st_wrong_password_within_an_hour_is_not_even_checked(world: World) -> None:
    for attempt in range(100):
        with pytest.raises(AuthenticationFailed) as caught:
            world.service.sign_in(
                "ann@example.com", "wrong password!", client_address=f"198.51.100.{attempt}"
            )
        assert not isinstance(caught.value, SignInThrottled)
    assert world.hasher.verifications == 100
    with pytest.raises(SignInThrottled) as throttled:
        world.service.sign_in("ann@example.com", PASSWORD, client_address="192.0.2.200")
    assert world.hasher.verifications == 100
    assert throttled.value.retry_at == world.clock.now() + timedelta(hours=1)


def test_an_unknown_account_is_throttled_exactly_like_a_real_one(world: World) -> None:
    policy = SignInPolicy(throttle=evolve(SignInPolicy().throttle, failures_per_account=3))
    world = make_world(policy)
    for email in ("ann@example.com", "nobody@example.com"):
        for _ in range(3):
            with pytest.raises(AuthenticationFailed) as caught:
                world.service.sign_in(email, "wrong password!", client_address=ADDRESS + email)
            assert not isinstance(caught.value, SignInThrottled)
        with pytest.raises(SignInThrottled):
            world.service.sign_in(email, "wrong password!", client_address=ADDRESS + email)


def test_the_account_budget_comes_back_as_old_failures_leave_the_window() -> None:
    policy = SignInPolicy(throttle=evolve(SignInPolicy().throttle, failures_per_account=2))
    world = make_world(policy)
    for minutes in (0, 10):
        world.clock.set(world.clock.now() + timedelta(minutes=minutes))
        with pytest.raises(AuthenticationFailed):
            sign_in(world, password="wrong password!")
    with pytest.raises(SignInThrottled) as throttled:
        sign_in(world)
    world.clock.set(throttled.value.retry_at - timedelta(seconds=1))
    with pytest.raises(SignInThrottled):
        sign_in(world)
    world.clock.set(throttled.value.retry_at)
    assert sign_in(world).principal.user_id == "ann"


def test_one_address_trying_many_accounts_is_throttled() -> None:
    policy = SignInPolicy(throttle=evolve(SignInPolicy().throttle, failures_per_address=5))
    world = make_world(policy)
    for n in range(5):
        with pytest.raises(AuthenticationFailed):
            world.service.sign_in(f"guess{n}@example.com", "password guess", client_address=ADDRESS)
    with pytest.raises(SignInThrottled):
        sign_in(world)
    assert sign_in(world, client_address="192.0.2.1").principal.user_id == "ann"


def test_a_successful_sign_in_is_recorded_as_such_and_does_not_count_as_a_failure(
    world: World,
) -> None:
    sign_in(world)
    outcomes = [a.outcome for a in world.storage.state.sign_in_attempts.values()]
    assert outcomes == [AttemptOutcome.SUCCEEDED]


def test_attempts_older_than_the_window_are_forgotten(world: World) -> None:
    with pytest.raises(AuthenticationFailed):
        sign_in(world, password="wrong password!")
    world.clock.advance(timedelta(hours=2))
    sign_in(world)
    assert [a.outcome for a in world.storage.state.sign_in_attempts.values()] == [
        AttemptOutcome.SUCCEEDED
    ]
