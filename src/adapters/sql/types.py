"""Column types that give SQLite and PostgreSQL the same values back.

PostgreSQL stores instants as `timestamptz` and amounts as unconstrained `numeric`. SQLite has
neither, so there an instant is fixed-width ISO text in UTC (which sorts and compares like the
instant itself) and an amount is the Decimal's own text (SQLite's NUMERIC affinity would turn
it into a float).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String, Text
from sqlalchemy.types import TypeDecorator, TypeEngine

_SQLITE_INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def stored_instant(value: datetime) -> datetime:
    """`value` in UTC, as every stored time is kept; a naive datetime is refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"A stored time must be timezone-aware, got {value!r}.")
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, always returned in UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(26))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        utc = stored_instant(value)
        if dialect.name == "sqlite":
            return utc.strftime(_SQLITE_INSTANT_FORMAT)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            # The stored text is ISO 8601; fromisoformat reads it far faster than strptime,
            # which mattered on every listed case.
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact amount: `numeric` on PostgreSQL, the Decimal's text on SQLite. Never a float."""

    impl = Numeric(asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"An amount must be a finite Decimal, got {value!r}.")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value)
