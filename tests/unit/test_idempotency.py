"""Idempotency-key rules: replay, refusal of another body, in-flight, take-over, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory import FixedClock, InMemoryStorage
from portal_core.errors import InvalidInput
from portal_core.idempotency import (
    IN_FLIGHT_TIMEOUT,
    KEY_LIFETIME,
    Claimed,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    IdempotentRequests,
    StoredResponse,
    fingerprint,
    owner_of,
)
from portal_core.organisations.model import Principal, Role

ANN = Principal(user_id="ann", organisation_id="acme", roles=frozenset({Role.CLIENT_ADMIN}))
AMY = Principal(user_id="amy", organisation_id="acme", roles=frozenset({Role.CLIENT_ADMIN}))
SAM = Principal(user_id="sam", organisation_id=None, roles=frozenset({Role.STAFF}))
ROUTE = "POST /api/v1/cases"
CREATED = StoredResponse(status=201, body=b'{"id": "c-1"}', content_type="application/json")


def requests() -> tuple[IdempotentRequests, FixedClock]:
    clock = FixedClock()
    return IdempotentRequests(uow=InMemoryStorage().unit_of_work, clock=clock), clock


def test_client_users_share_their_organisations_keys_and_staff_have_their_own() -> None:
    assert owner_of(ANN) == owner_of(AMY) == "organisation:acme"
    assert owner_of(SAM) == "user:sam"


@given(st.binary(max_size=64), st.binary(max_size=64))
def test_the_fingerprint_tells_method_path_and_body_apart(one: bytes, other: bytes) -> None:
    assert (fingerprint("POST", "/a", one) == fingerprint("POST", "/a", other)) == (one == other)
    assert fingerprint("POST", "/a", one) != fingerprint("POST", "/a/", one)
    # the parts are length-prefixed, so moving bytes between path and body changes the digest
    assert fingerprint("POST", "/a", b"b" + one) != fingerprint("POST", "/ab", one)


def test_the_operation_runs_once_and_its_response_is_replayed() -> None:
    service, _ = requests()
    runs: list[int] = []

    def operation() -> StoredResponse:
        runs.append(1)
        return CREATED

    first = service.run(ANN, key="k", route=ROUTE, fingerprint="f", operation=operation)
    second = service.run(AMY, key="k", route=ROUTE, fingerprint="f", operation=operation)
    assert first == (CREATED, False)
    assert second == (CREATED, True)
    assert len(runs) == 1


def test_another_request_with_the_key_is_refused() -> None:
    service, _ = requests()
    service.run(ANN, key="k", route=ROUTE, fingerprint="f", operation=lambda: CREATED)
    with pytest.raises(IdempotencyKeyReused):
        service.run(ANN, key="k", route=ROUTE, fingerprint="g", operation=lambda: CREATED)


def test_a_request_in_flight_holds_its_key_until_the_timeout() -> None:
    service, clock = requests()
    claimed = service.begin(ANN, key="k", route=ROUTE, fingerprint="f")
    assert isinstance(claimed, Claimed)
    with pytest.raises(IdempotencyKeyInFlight):
        service.begin(ANN, key="k", route=ROUTE, fingerprint="f")
    clock.advance(IN_FLIGHT_TIMEOUT)
    taken = service.begin(ANN, key="k", route=ROUTE, fingerprint="f")
    assert taken != claimed
    # the first request finishing late does not overwrite the one that took over
    service.complete(claimed, CREATED)
    with pytest.raises(IdempotencyKeyInFlight):
        service.begin(ANN, key="k", route=ROUTE, fingerprint="f")


def test_a_failed_operation_releases_the_key() -> None:
    service, _ = requests()

    def refused() -> StoredResponse:
        raise InvalidInput("Subject missing.")

    with pytest.raises(InvalidInput):
        service.run(ANN, key="k", route=ROUTE, fingerprint="f", operation=refused)
    assert service.run(ANN, key="k", route=ROUTE, fingerprint="g", operation=lambda: CREATED) == (
        CREATED,
        False,
    )


def test_keys_live_a_day_then_are_deleted_and_may_be_used_again() -> None:
    service, clock = requests()
    service.run(ANN, key="k", route=ROUTE, fingerprint="f", operation=lambda: CREATED)
    clock.advance(KEY_LIFETIME - timedelta(seconds=1))
    assert service.delete_expired() == 0
    clock.advance(timedelta(seconds=1))
    fresh = StoredResponse(status=201, body=b"{}", content_type="application/json")
    assert service.run(ANN, key="k", route=ROUTE, fingerprint="g", operation=lambda: fresh) == (
        fresh,
        False,
    )
    clock.advance(KEY_LIFETIME)
    assert service.delete_expired() == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "naïve", "tab\there"])
def test_a_key_is_short_printable_ascii(key: str) -> None:
    service, _ = requests()
    with pytest.raises(InvalidInput):
        service.begin(ANN, key=key, route=ROUTE, fingerprint="f")
