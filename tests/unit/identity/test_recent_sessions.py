"""A session resolved moments ago is reused without a database read, briefly and never
beyond what ended it: sign-out, revocation, removal and role changes in this process end the
reuse at once; anything else within `session_recheck_interval`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from attrs import evolve

from portal_core.identity.service import SignInPolicy
from portal_core.organisations.events import UserRemoved, UserRolesChanged
from portal_core.organisations.model import Role
from tests.unit.identity.builders import PASSWORD, START, World, make_world

INTERVAL = SignInPolicy().session_recheck_interval


@pytest.fixture
def world() -> World:
    return make_world()


def signed_in_and_resolved(world: World) -> str:
    token = world.service.sign_in("ann@example.com", PASSWORD, client_address="198.51.100.1").token
    assert world.service.recently_resolved(token) is None  # signing in is not resolving
    world.service.resolve(token)
    return token


def test_a_resolved_session_is_reused_for_the_recheck_interval_only(world: World) -> None:
    token = signed_in_and_resolved(world)
    assert world.service.recently_resolved(token) == world.ann.as_principal()
    world.clock.advance(INTERVAL - timedelta(milliseconds=1))
    assert world.service.recently_resolved(token) == world.ann.as_principal()
    world.clock.advance(timedelta(milliseconds=1))
    assert world.service.recently_resolved(token) is None


def test_an_unknown_token_is_never_reused(world: World) -> None:
    signed_in_and_resolved(world)
    assert world.service.recently_resolved("not-a-session-token") is None


def test_signing_out_ends_the_reuse_at_once(world: World) -> None:
    token = signed_in_and_resolved(world)
    world.service.sign_out(token)
    assert world.service.recently_resolved(token) is None


@pytest.mark.parametrize("how", ["revoke", "lock_out"])
def test_revoking_or_locking_out_ends_the_reuse_at_once(world: World, how: str) -> None:
    token = signed_in_and_resolved(world)
    if how == "revoke":
        world.service.revoke_sessions("ann", actor_id="ada", reason="lost laptop")
    else:
        world.service.lock_out("ann", actor_id="ada")
    assert world.service.recently_resolved(token) is None


@pytest.mark.parametrize("event_type", [UserRolesChanged, UserRemoved])
def test_a_changed_or_removed_contact_is_resolved_afresh_at_once(
    world: World, event_type: type[UserRolesChanged | UserRemoved]
) -> None:
    token = signed_in_and_resolved(world)
    other = world.service.sign_in("ada@example.com", PASSWORD, client_address="198.51.100.2")
    world.service.resolve(other.token)
    header = {"event_id": "e-1", "occurred_at": START, "organisation_id": "acme", "actor_id": "ada"}
    if event_type is UserRolesChanged:
        event: UserRolesChanged | UserRemoved = UserRolesChanged(
            **header, user_id="ann", roles=("client_viewer",), previous_roles=("client_admin",)
        )
    else:
        event = UserRemoved(**header, user_id="ann")
    world.dispatcher.dispatch([event])
    assert world.service.recently_resolved(token) is None
    assert world.service.recently_resolved(other.token) is not None  # only Ann is forgotten


def test_the_reuse_never_outlives_the_session(world: World) -> None:
    policy = SignInPolicy(idle_timeout=timedelta(seconds=1))
    short = make_world(policy)
    token = signed_in_and_resolved(short)
    short.clock.advance(timedelta(seconds=1))
    assert short.service.recently_resolved(token) is None


def test_a_zero_interval_reads_the_session_on_every_request() -> None:
    world = make_world(SignInPolicy(session_recheck_interval=timedelta(0)))
    token = signed_in_and_resolved(world)
    assert world.service.recently_resolved(token) is None


def test_a_role_change_is_seen_by_the_next_resolve_after_the_interval(world: World) -> None:
    token = signed_in_and_resolved(world)
    with world.storage.unit_of_work() as uow:  # as another process would change it
        uow.users.update(evolve(world.ann, roles=frozenset({Role.CLIENT_VIEWER})))
        uow.commit()
    world.clock.advance(INTERVAL)
    assert world.service.recently_resolved(token) is None
    assert world.service.resolve(token).roles == frozenset({Role.CLIENT_VIEWER})


def test_signing_in_again_ends_the_reuse_of_the_browsers_previous_session(world: World) -> None:
    token = signed_in_and_resolved(world)
    world.service.sign_in(
        "ann@example.com", PASSWORD, client_address="198.51.100.1", previous_token=token
    )
    assert world.service.recently_resolved(token) is None
