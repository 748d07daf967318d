"""Database failures, turned into the domain's errors or into one clear storage error.

No SQL text or driver message ever reaches a domain error's message: those are shown to people.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from portal_core.errors import Conflict, InvalidInput, NotFound


class StorageUnavailable(RuntimeError):
    """The database could not be reached or the connection broke; nothing was saved."""


class SchemaOutOfDate(RuntimeError):
    """The database schema is not the one this version of the portal needs."""


_SQLITE_COLUMNS = re.compile(r"constraint failed: (?P<columns>.+)$")
_POSTGRES_KEY = re.compile(r"Key \((?P<columns>[^)]*)\)=")


def _unique_columns(error: IntegrityError) -> frozenset[str]:
    """The violated unique key as {"table.column", ...}; empty when the driver does not say."""
    original = error.orig
    diag = getattr(original, "diag", None)
    if diag is not None:  # psycopg
        match = _POSTGRES_KEY.search(diag.message_detail or "")
        if match is None or diag.table_name is None:
            return frozenset()
        return frozenset(
            f"{diag.table_name}.{column.strip()}" for column in match["columns"].split(",")
        )
    match = _SQLITE_COLUMNS.search(str(original))
    if match is None:
        return frozenset()
    return frozenset(column.strip() for column in match["columns"].split(","))


def _kind(error: IntegrityError) -> str:
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is not None:
        return {"23505": "unique", "23503": "foreign_key", "23514": "check"}.get(sqlstate, "other")
    text = str(error.orig)
    for prefix, kind in (
        ("UNIQUE", "unique"),
        ("FOREIGN KEY", "foreign_key"),
        ("CHECK", "check"),
    ):
        if text.startswith(prefix):
            return kind
    return "other"


LOST_CONNECTION = (
    "The connection to the database was lost; nothing from this unit of work was saved."
)


UNSTORABLE = "A value cannot be stored as it is (a NUL character?)."


@contextmanager
def lost_connection_reported() -> Iterator[None]:
    """Turn a broken connection into StorageUnavailable (the server has dropped the
    transaction), and a value the database cannot hold into InvalidInput."""
    try:
        yield
    except DataError:
        raise InvalidInput(UNSTORABLE) from None
    except DBAPIError as error:
        if error.connection_invalidated:
            raise StorageUnavailable(LOST_CONNECTION) from error
        raise


@contextmanager
def guarded(
    connection: Connection,
    *,
    duplicates: Mapping[frozenset[str], str],
    missing: str = "Something this refers to does not exist.",
    invalid: str = "The data breaks a rule of the database.",
    savepoint: bool = True,
) -> Iterator[None]:
    """Run a write in a savepoint and turn a constraint violation into a domain error.

    The savepoint keeps the unit of work usable after the error, as the in-memory fake does
    (PostgreSQL otherwise refuses every later statement of an aborted transaction).
    `duplicates` maps a unique key ({"table.column"}) to its message; the first is the default.
    `savepoint=False` saves its two round trips where an error ends the unit of work anyway
    (the batch writes of an inbound message).
    """
    with lost_connection_reported():
        nested = connection.begin_nested() if savepoint else None
        try:
            yield
        except IntegrityError as error:
            if nested is not None:
                nested.rollback()
            kind = _kind(error)
            if kind == "unique":
                columns = _unique_columns(error)
                message = duplicates.get(columns, next(iter(duplicates.values())))
                raise Conflict(message) from None
            if kind == "foreign_key":
                raise NotFound(missing) from None
            raise InvalidInput(invalid) from None
        except InvalidInput:
            # A value the database cannot hold (PostgreSQL refuses NUL characters in text).
            if nested is not None:
                nested.rollback()
            raise
        if nested is not None:
            nested.commit()
