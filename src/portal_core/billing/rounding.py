"""Time rounding: how raw minutes become billed minutes, without ever rewriting the raw minutes.

A contract's `RoundingRule` has an increment (1, 6, 10, 15, 30 or 60 minutes), a mode (`up`,
`nearest` where a half increment rounds up, or `down`), a minimum billed per entry (default 0)
and a scope: `entry` rounds each entry on its own (the default); `case` sums the raw minutes
per case and role and rounds that sum once.

Where BILLING.md is silent: with scope `case` the per-entry minimum applies to each entry's
raw minutes before they are summed (an entry of 3 minutes with a minimum of 6 counts as 6),
and the minimum always wins over rounding down.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from attrs import frozen

from portal_core.errors import InvalidInput

ALLOWED_INCREMENTS = (1, 6, 10, 15, 30, 60)


class TimeRoundingMode(enum.StrEnum):
    UP = "up"
    NEAREST = "nearest"
    DOWN = "down"


class RoundingScope(enum.StrEnum):
    ENTRY = "entry"
    """Round every entry on its own, then sum."""
    CASE = "case"
    """Sum the raw minutes per case and role, then round once."""


def round_minutes(minutes: int, increment: int, mode: TimeRoundingMode) -> int:
    """`minutes` rounded to a multiple of `increment`; integers only, so exact."""
    if mode is TimeRoundingMode.UP:
        return -(-minutes // increment) * increment
    if mode is TimeRoundingMode.DOWN:
        return minutes // increment * increment
    # nearest, a half increment rounds up: floor((2m + i) / 2i) · i
    return (2 * minutes + increment) // (2 * increment) * increment


@frozen(kw_only=True)
class RoundingRule:
    increment: int = 1
    mode: TimeRoundingMode = TimeRoundingMode.UP
    minimum: int = 0
    """Minutes billed at least for each entry."""
    scope: RoundingScope = RoundingScope.ENTRY

    def __attrs_post_init__(self) -> None:
        if self.increment not in ALLOWED_INCREMENTS:
            allowed = ", ".join(str(i) for i in ALLOWED_INCREMENTS)
            raise InvalidInput(f"The rounding increment is one of {allowed} minutes.")
        if not 0 <= self.minimum <= 24 * 60:
            raise InvalidInput("The minimum billed per entry is between 0 and 1440 minutes.")

    def counted(self, raw_minutes: int) -> int:
        """What one entry contributes before rounding: its raw minutes, at least the minimum."""
        return max(raw_minutes, self.minimum)

    def billed_for_entry(self, raw_minutes: int) -> int:
        """Billed minutes of one entry under scope `entry`."""
        return max(round_minutes(raw_minutes, self.increment, self.mode), self.minimum)

    def billed_for_group(self, raw_minutes: Iterable[int]) -> tuple[tuple[int, ...], int]:
        """Billed minutes of a group of entries (one case and role) under this rule's scope:
        each entry's share as listed beneath the line, and the line's billed minutes."""
        raw = tuple(raw_minutes)
        if self.scope is RoundingScope.ENTRY:
            shares = tuple(self.billed_for_entry(m) for m in raw)
            return shares, sum(shares)
        shares = tuple(self.counted(m) for m in raw)
        return shares, round_minutes(sum(shares), self.increment, self.mode)
