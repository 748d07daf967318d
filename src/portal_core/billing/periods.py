"""Billing periods: calendar months in the firm's time zone.

A monthly invoice covers one calendar month. A month belongs to the firm's time zone (a
zoneinfo name given to the billing service, "Europe/London" by default): "today", the issue
date and the due date of an invoice are dates in that zone, and a month can be billed only
once it has ended there. Time entries carry their work date as a plain date, which is already
a date in the firm's calendar.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import frozen

from portal_core.errors import InvalidInput

DEFAULT_FIRM_TIME_ZONE = "Europe/London"


def firm_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Unknown time zone {name!r}.") from None


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar date of `moment` (timezone-aware) in the firm's zone."""
    if moment.tzinfo is None:
        raise InvalidInput("Times are timezone-aware.")
    return moment.astimezone(zone).date()


@frozen(order=True)
class BillingPeriod:
    """One calendar month: `BillingPeriod(2026, 10)` is October 2026."""

    year: int
    month: int

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 9999:
            raise InvalidInput("A billing period is a month of a year from 2000.")

    @classmethod
    def containing(cls, day: date) -> BillingPeriod:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, key: str) -> BillingPeriod:
        """From "2026-10"."""
        try:
            year, month = (int(part) for part in key.split("-"))
        except ValueError:
            raise InvalidInput(f"{key!r} is not a month such as 2026-10.") from None
        return cls(year, month)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    @property
    def days(self) -> int:
        return self.last_day.day

    def next(self) -> BillingPeriod:
        return BillingPeriod(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> BillingPeriod:
        if self.month == 1:
            return BillingPeriod(self.year - 1, 12)
        return BillingPeriod(self.year, self.month - 1)

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def label(self) -> str:
        return self.first_day.strftime("%B %Y")
