"""Idempotency keys on every storage: one claim per key, responses kept, expired ones deleted."""

from __future__ import annotations

from datetime import timedelta

from attrs import evolve

from portal_core.idempotency import IdempotencyRecord, StoredResponse
from portal_core.ports import UnitOfWorkFactory

from .factories import at

OWNER = "organisation:acme"
ROUTE = "POST /api/v1/cases"


def claim(key: str = "k-1", *, minute: int = 0, fingerprint: str = "f" * 64) -> IdempotencyRecord:
    return IdempotencyRecord(
        owner=OWNER,
        route=ROUTE,
        key=key,
        fingerprint=fingerprint,
        started_at=at(minute),
        expires_at=at(minute) + timedelta(hours=24),
    )


def test_a_key_is_claimed_once_per_owner_and_route(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        assert work.idempotency_keys.claim(claim()) is True
        assert work.idempotency_keys.claim(claim(minute=1)) is False
        other_owner = evolve(claim(), owner="organisation:b")
        assert work.idempotency_keys.claim(other_owner) is True
        work.commit()
    with uow() as work:
        stored = work.idempotency_keys.get(OWNER, ROUTE, "k-1")
        assert stored == claim()
        assert work.idempotency_keys.get(OWNER, "POST /api/v1/uploads", "k-1") is None


def test_a_completed_claim_keeps_the_response_bytes(uow: UnitOfWorkFactory) -> None:
    response = StoredResponse(
        status=201, body=b'{"id": "c-1"}\x00', content_type="application/json"
    )
    with uow() as work:
        work.idempotency_keys.claim(claim())
        work.commit()
    with uow() as work:
        work.idempotency_keys.complete(OWNER, ROUTE, "k-1", started_at=at(0), response=response)
        work.commit()
    with uow() as work:
        stored = work.idempotency_keys.get(OWNER, ROUTE, "k-1")
        assert stored is not None
        assert stored.response == response


def test_a_release_forgets_only_the_unfinished_claim_it_made(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.idempotency_keys.claim(claim("a"))
        work.idempotency_keys.claim(claim("b"))
        response = StoredResponse(status=201, body=b"{}", content_type="application/json")
        work.idempotency_keys.complete(OWNER, ROUTE, "b", started_at=at(0), response=response)
        work.commit()
    with uow() as work:
        work.idempotency_keys.release(OWNER, ROUTE, "a", started_at=at(5))  # someone else's
        work.idempotency_keys.release(OWNER, ROUTE, "b", started_at=at(0))  # finished: kept
        work.commit()
    with uow() as work:
        assert work.idempotency_keys.get(OWNER, ROUTE, "a") is not None
        assert work.idempotency_keys.get(OWNER, ROUTE, "b") is not None
        work.idempotency_keys.release(OWNER, ROUTE, "a", started_at=at(0))
        work.commit()
    with uow() as work:
        assert work.idempotency_keys.get(OWNER, ROUTE, "a") is None


def test_a_take_over_succeeds_only_against_the_claim_it_saw(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.idempotency_keys.claim(claim())
        work.commit()
    with uow() as work:
        newer = claim(minute=10, fingerprint="e" * 64)
        assert work.idempotency_keys.take_over(newer, previous_started_at=at(0)) is True
        assert work.idempotency_keys.take_over(claim(minute=11), previous_started_at=at(0)) is False
        work.commit()
    with uow() as work:
        assert work.idempotency_keys.get(OWNER, ROUTE, "k-1") == newer


def test_expired_keys_are_deleted_and_fresh_ones_kept(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.idempotency_keys.claim(claim("old", minute=0))
        work.idempotency_keys.claim(claim("new", minute=60))
        work.commit()
    with uow() as work:
        assert work.idempotency_keys.delete_expired(at(30) + timedelta(hours=24)) == 1
        work.commit()
    with uow() as work:
        assert work.idempotency_keys.get(OWNER, ROUTE, "old") is None
        assert work.idempotency_keys.get(OWNER, ROUTE, "new") is not None
