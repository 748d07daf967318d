"""Idempotency keys on creates: the same key and request give the same response, once.

A client that is unsure whether a create went through (a timeout, a dropped connection) sends
it again with the same `Idempotency-Key`. The rules, after Stripe's design:

- a key belongs to an owner (a client organisation, or one member of staff) and one route
  (method and path), so the same key from two organisations is two operations;
- the first request with a key claims it (committed before the operation runs) with a
  SHA-256 fingerprint of method, path and body;
- the same key with the same fingerprint, once the first has finished, replays the stored
  status and body; while the first is still running it is refused (`IdempotencyKeyInFlight`,
  409); with a different fingerprint it is refused (`IdempotencyKeyReused`, 422);
- a request refused by a rule (a domain error) or failing is not remembered: the claim is
  released, so a corrected retry with the same key runs;
- keys are kept `KEY_LIFETIME` (24 hours) and then deleted; a claim whose request died without
  finishing (a killed process) can be taken over after `IN_FLIGHT_TIMEOUT`.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from attrs import evolve, frozen

from portal_core.errors import Conflict, InvalidInput
from portal_core.organisations.model import Principal
from portal_core.ports import Clock, UnitOfWorkFactory

KEY_LIFETIME = timedelta(hours=24)
IN_FLIGHT_TIMEOUT = timedelta(minutes=5)
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"


class IdempotencyKeyInFlight(Conflict):
    code = "idempotency_key_in_flight"


@frozen(kw_only=True)
class StoredResponse:
    status: int
    body: bytes
    content_type: str


@frozen(kw_only=True)
class IdempotencyRecord:
    owner: str
    """`organisation:<id>` for client users, `user:<id>` for staff."""
    route: str
    """Method and path, such as `POST /api/v1/cases`."""
    key: str
    fingerprint: str
    started_at: datetime
    expires_at: datetime
    response: StoredResponse | None = None
    """None while the first request is still running."""


class IdempotencyKeys(Protocol):
    """Storage of idempotency keys, on the unit of work as `idempotency_keys`."""

    def claim(self, record: IdempotencyRecord) -> bool:
        """Store `record` unless its (owner, route, key) exists: True if stored."""
        ...

    def get(self, owner: str, route: str, key: str) -> IdempotencyRecord | None: ...

    def take_over(self, record: IdempotencyRecord, *, previous_started_at: datetime) -> bool:
        """Replace the stored record of the same (owner, route, key) with `record`, only if
        it still has `previous_started_at` (nobody took it over first): True if replaced."""
        ...

    def complete(
        self, owner: str, route: str, key: str, *, started_at: datetime, response: StoredResponse
    ) -> None:
        """Keep `response` with the claim made at `started_at`."""
        ...

    def release(self, owner: str, route: str, key: str, *, started_at: datetime) -> None:
        """Forget the unfinished claim made at `started_at` (absent or taken over: no error)."""
        ...

    def delete_expired(self, now: datetime) -> int:
        """Delete every record expired at `now`; the number deleted."""
        ...


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidInput(
            f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters."
        )
    return key


def owner_of(principal: Principal) -> str:
    """Client users share their organisation's keys; each member of staff has their own."""
    if principal.is_staff or principal.organisation_id is None:
        return f"user:{principal.user_id}"
    return f"organisation:{principal.organisation_id}"


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class Decision(enum.Enum):
    PROCEED = "proceed"
    REPLAY = "replay"
    TAKE_OVER = "take_over"


def decide(existing: IdempotencyRecord, *, fingerprint: str, now: datetime) -> Decision:
    """What to do with a request whose key is already stored as `existing`."""
    if existing.expires_at <= now:
        return Decision.TAKE_OVER
    if existing.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for a different request; use a new key."
        )
    if existing.response is not None:
        return Decision.REPLAY
    if existing.started_at + IN_FLIGHT_TIMEOUT <= now:
        return Decision.TAKE_OVER
    raise IdempotencyKeyInFlight(
        "A request with this Idempotency-Key is still being processed; retry shortly."
    )


@frozen(kw_only=True)
class Claimed:
    """The request runs: finish it with `IdempotentRequests.complete` or `release`."""

    record: IdempotencyRecord


@frozen(kw_only=True)
class Replayed:
    response: StoredResponse


class IdempotentRequests:
    """Claim, replay, complete and release idempotency keys, each in its own unit of work."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, lifetime: timedelta = KEY_LIFETIME
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._lifetime = lifetime

    def begin(
        self, principal: Principal, *, key: str, route: str, fingerprint: str
    ) -> Claimed | Replayed:
        now = self._clock.now()
        record = IdempotencyRecord(
            owner=owner_of(principal),
            route=route,
            key=check_key(key),
            fingerprint=fingerprint,
            started_at=now,
            expires_at=now + self._lifetime,
        )
        with self._uow() as uow:
            keys = uow.idempotency_keys
            if keys.claim(record):
                uow.commit()
                return Claimed(record=record)
            existing = keys.get(record.owner, record.route, record.key)
            if existing is None:  # expired and cleaned up in between: the next try claims it
                raise IdempotencyKeyInFlight("This Idempotency-Key is being reset; retry.")
            decision = decide(existing, fingerprint=fingerprint, now=now)
            if decision is Decision.REPLAY:
                assert existing.response is not None
                return Replayed(response=existing.response)
            if not keys.take_over(record, previous_started_at=existing.started_at):
                raise IdempotencyKeyInFlight(
                    "A request with this Idempotency-Key is still being processed; retry shortly."
                )
            uow.commit()
        return Claimed(record=record)

    def complete(self, claimed: Claimed, response: StoredResponse) -> None:
        record = claimed.record
        with self._uow() as uow:
            uow.idempotency_keys.complete(
                record.owner,
                record.route,
                record.key,
                started_at=record.started_at,
                response=response,
            )
            uow.commit()

    def release(self, claimed: Claimed) -> None:
        record = claimed.record
        with self._uow() as uow:
            uow.idempotency_keys.release(
                record.owner, record.route, record.key, started_at=record.started_at
            )
            uow.commit()

    def run(
        self,
        principal: Principal,
        *,
        key: str,
        route: str,
        fingerprint: str,
        operation: Callable[[], StoredResponse],
    ) -> tuple[StoredResponse, bool]:
        """`operation`'s response, run once per key: (response, whether it was replayed).
        A failing operation releases the key and its error propagates."""
        started = self.begin(principal, key=key, route=route, fingerprint=fingerprint)
        if isinstance(started, Replayed):
            return started.response, True
        try:
            response = operation()
        except BaseException:
            self.release(started)
            raise
        self.complete(started, response)
        return response, False

    def delete_expired(self) -> int:
        """Cleanup: delete keys past their lifetime (run it from a periodic job)."""
        with self._uow() as uow:
            deleted = uow.idempotency_keys.delete_expired(self._clock.now())
            uow.commit()
        return deleted


def completed(record: IdempotencyRecord, response: StoredResponse) -> IdempotencyRecord:
    return evolve(record, response=response)
