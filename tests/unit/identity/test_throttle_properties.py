"""Invariants of brute-force protection, over any sequence of sign-in attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from portal_core.identity.service import SignInPolicy, SignInThrottled
from portal_core.identity.throttle import ThrottlePolicy
from portal_core.ports import AuthenticationFailed
from tests.unit.identity.builders import PASSWORD, START, make_world

WINDOW = timedelta(minutes=10)
ACCOUNT_LIMIT = 4
ADDRESS_LIMIT = 6

attempts = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=240),  # seconds since the previous attempt
        st.sampled_from(["ann@example.com", "ANN@example.com", "nobody@example.com"]),
        st.sampled_from(["192.0.2.1", "192.0.2.2", "198.51.100.9"]),
        st.booleans(),  # the right password?
    ),
    max_size=40,
)


def most_in_any_window(times: list[datetime]) -> int:
    return max((sum(1 for other in times if at - WINDOW < other <= at) for at in times), default=0)


@given(attempts)
def test_no_sequence_of_attempts_gets_more_wrong_passwords_checked_than_the_limits(
    sequence: list[tuple[int, str, str, bool]],
) -> None:
    policy = SignInPolicy(
        throttle=ThrottlePolicy(
            window=WINDOW,
            failures_per_account=ACCOUNT_LIMIT,
            failures_per_address=ADDRESS_LIMIT,
        )
    )
    world = make_world(policy)
    checked_failures: dict[str, list[datetime]] = {}
    checked_from: dict[str, list[datetime]] = {}
    for pause, email, address, right in sequence:
        world.clock.advance(timedelta(seconds=pause))
        checks_before = world.hasher.verifications
        try:
            world.service.sign_in(
                email, PASSWORD if right else "wrong password!", client_address=address
            )
        except SignInThrottled:
            assert world.hasher.verifications == checks_before  # refused unchecked
        except AuthenticationFailed:
            checked_failures.setdefault(email.casefold(), []).append(world.clock.now())
            checked_from.setdefault(address, []).append(world.clock.now())
    for times in checked_failures.values():
        assert most_in_any_window(times) <= ACCOUNT_LIMIT
    for times in checked_from.values():
        assert most_in_any_window(times) <= ADDRESS_LIMIT


@given(
    st.lists(st.integers(min_value=0, max_value=3600), max_size=30),
    st.integers(min_value=1, max_value=5),
)
def test_a_refusal_lasts_exactly_until_the_budget_is_back(offsets: list[int], limit: int) -> None:
    policy = ThrottlePolicy(window=timedelta(hours=1), failures_per_account=limit)
    failures = [START + timedelta(seconds=s) for s in offsets]
    now = START + timedelta(seconds=3600)
    refused_until = policy.refused_until(now, account_failures=failures, address_failures=[])
    in_window = [at for at in failures if at > policy.counts_since(now)]
    assert (refused_until is None) == (len(in_window) < limit)
    if refused_until is not None:
        assert refused_until > now
        free = policy.refused_until(refused_until, account_failures=failures, address_failures=[])
        assert free is None
        assert (
            policy.refused_until(
                refused_until - timedelta(microseconds=1),
                account_failures=failures,
                address_failures=[],
            )
            is not None
        )
