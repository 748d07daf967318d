"""Invariants of session lifetimes, over any rhythm of requests."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from portal_core.identity.model import TOUCH_INTERVAL
from portal_core.ports import AuthenticationFailed
from tests.unit.identity.builders import PASSWORD, make_world


@given(st.lists(st.integers(min_value=0, max_value=40 * 60), min_size=1, max_size=40))
def test_a_session_lives_while_used_within_the_idle_timeout_and_never_past_its_lifetime(
    gaps: list[int],
) -> None:
    world = make_world()
    policy = world.service.policy
    token = world.service.sign_in("ann@example.com", PASSWORD, client_address="192.0.2.1").token
    elapsed = timedelta(0)
    ended = False
    for seconds in gaps:
        gap = timedelta(seconds=seconds)
        world.clock.advance(gap)
        elapsed += gap
        try:
            world.service.resolve(token)
            alive = True
        except AuthenticationFailed:
            alive = False
        must_end = gap >= policy.idle_timeout or elapsed >= policy.absolute_lifetime
        must_live = gap < policy.idle_timeout - TOUCH_INTERVAL
        if ended or must_end:
            assert not alive
        elif must_live:
            assert alive
        ended = ended or not alive
