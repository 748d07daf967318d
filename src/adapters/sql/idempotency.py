"""SQL storage of idempotency keys (`portal_core.idempotency.IdempotencyKeys`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, select, update

from adapters.sql import tables as t
from adapters.sql.repositories import Database
from portal_core.idempotency import IdempotencyRecord, StoredResponse


def _record(row: Row[Any]) -> IdempotencyRecord:
    response = None
    if row.response_status is not None:
        response = StoredResponse(
            status=row.response_status,
            body=bytes(row.response_body or b""),
            content_type=row.response_content_type or "application/json",
        )
    return IdempotencyRecord(
        owner=row.owner,
        route=row.route,
        key=row.key,
        fingerprint=row.fingerprint,
        started_at=row.started_at,
        expires_at=row.expires_at,
        response=response,
    )


def _values(record: IdempotencyRecord) -> dict[str, Any]:
    response = record.response
    return {
        "owner": record.owner,
        "route": record.route,
        "key": record.key,
        "fingerprint": record.fingerprint,
        "started_at": record.started_at,
        "expires_at": record.expires_at,
        "response_status": None if response is None else response.status,
        "response_body": None if response is None else response.body,
        "response_content_type": None if response is None else response.content_type,
    }


class SqlIdempotencyKeys:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _is(self, owner: str, route: str, key: str) -> Any:
        c = t.idempotency_keys.c
        return and_(c.owner == owner, c.route == route, c.key == key)

    def claim(self, record: IdempotencyRecord) -> bool:
        # ON CONFLICT DO NOTHING: a concurrent claimer of the same key waits for the first
        # transaction and then finds the row, so exactly one request runs the operation.
        return self._db.insert_or_ignore(t.idempotency_keys, _values(record))

    def get(self, owner: str, route: str, key: str) -> IdempotencyRecord | None:
        row = self._db.execute(
            select(t.idempotency_keys).where(self._is(owner, route, key))
        ).first()
        return None if row is None else _record(row)

    def take_over(self, record: IdempotencyRecord, *, previous_started_at: datetime) -> bool:
        c = t.idempotency_keys.c
        result = self._db.execute(
            update(t.idempotency_keys)
            .where(
                self._is(record.owner, record.route, record.key),
                c.started_at == previous_started_at,
            )
            .values(**_values(record))
        )
        return result.rowcount == 1

    def complete(
        self, owner: str, route: str, key: str, *, started_at: datetime, response: StoredResponse
    ) -> None:
        c = t.idempotency_keys.c
        self._db.execute(
            update(t.idempotency_keys)
            .where(self._is(owner, route, key), c.started_at == started_at)
            .values(
                response_status=response.status,
                response_body=response.body,
                response_content_type=response.content_type,
            )
        )

    def release(self, owner: str, route: str, key: str, *, started_at: datetime) -> None:
        c = t.idempotency_keys.c
        self._db.execute(
            delete(t.idempotency_keys).where(
                self._is(owner, route, key),
                c.started_at == started_at,
                c.response_status.is_(None),
            )
        )

    def delete_expired(self, now: datetime) -> int:
        result = self._db.execute(
            delete(t.idempotency_keys).where(t.idempotency_keys.c.expires_at <= now)
        )
        return result.rowcount
