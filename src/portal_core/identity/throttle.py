"""Brute-force protection as a pure rule over the failed sign-ins recorded so far.

Two budgets, each over a sliding window: failed sign-ins per account (the e-mail address as
typed, whether or not such a user exists, so the answer never tells which accounts exist) and
failed sign-ins per client address. A sign-in over either budget is refused before its
password is looked at. Changing addresses does not help an attacker against one account, and
spreading over many accounts from one address meets the address budget.

The client address is whatever the web layer hands in: it must be the connection's peer
address, not a client-supplied `X-Forwarded-For`, unless a trusted proxy is configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from attrs import frozen

from portal_core.errors import InvalidInput

DEFAULT_WINDOW = timedelta(hours=1)
DEFAULT_FAILURES_PER_ACCOUNT = 100
DEFAULT_FAILURES_PER_ADDRESS = 500


@frozen(kw_only=True)
class ThrottlePolicy:
    window: timedelta = DEFAULT_WINDOW
    failures_per_account: int = DEFAULT_FAILURES_PER_ACCOUNT
    failures_per_address: int = DEFAULT_FAILURES_PER_ADDRESS

    def __attrs_post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise InvalidInput("The throttling window must be positive.")
        if self.failures_per_account < 1 or self.failures_per_address < 1:
            raise InvalidInput("Throttling limits must allow at least one attempt.")

    def counts_since(self, now: datetime) -> datetime:
        """Failures after this moment (exclusive) count against a sign-in at `now`."""
        return now - self.window

    def refused_until(
        self,
        now: datetime,
        *,
        account_failures: Sequence[datetime],
        address_failures: Sequence[datetime],
    ) -> datetime | None:
        """None when a sign-in at `now` may be checked; otherwise the moment from which one may.

        The sequences are the failure times of the account and of the address, from the log.
        """
        since = self.counts_since(now)
        waits = [
            wait
            for wait in (
                self._free_at(account_failures, since, self.failures_per_account),
                self._free_at(address_failures, since, self.failures_per_address),
            )
            if wait is not None
        ]
        return max(waits) if waits else None

    def _free_at(
        self, failures: Sequence[datetime], since: datetime, limit: int
    ) -> datetime | None:
        recent = sorted(at for at in failures if at > since)
        if len(recent) < limit:
            return None
        # Once this failure leaves the window, fewer than `limit` remain in it.
        return recent[len(recent) - limit] + self.window
