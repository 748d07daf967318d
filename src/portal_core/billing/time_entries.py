"""Time entries: the raw record of work done, which billing reads but never rewrites.

An entry is a case, a member of staff, the role they worked in, a work date, raw minutes (a
whole number, at least 1, at most a day), a description and whether it is billable. Billed
minutes are never stored on the entry; they are computed from the raw minutes when billing.
`invoice_id` is None until an invoice (a draft included) takes the entry, and an entry on an
invoice belongs to that invoice alone: that is what keeps an entry from being billed twice.
"""

from __future__ import annotations

from datetime import date, datetime

from attrs import evolve, frozen

from portal_core.errors import InvalidInput, InvalidTransition

MAX_MINUTES_PER_ENTRY = 24 * 60
MAX_DESCRIPTION_LENGTH = 2_000


def check_minutes(minutes: int) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InvalidInput("Minutes are a whole number.")
    if minutes < 1:
        raise InvalidInput("A time entry records at least 1 minute.")
    if minutes > MAX_MINUTES_PER_ENTRY:
        raise InvalidInput(f"A time entry records at most {MAX_MINUTES_PER_ENTRY} minutes.")
    return minutes


@frozen(kw_only=True)
class TimeEntry:
    id: str
    organisation_id: str
    case_id: str
    staff_id: str
    role: str
    """The billing role the work was done in ("Senior"); the contract has a rate per role."""
    work_date: date
    minutes: int
    """Raw minutes as logged. Never rewritten by billing."""
    description: str
    billable: bool = True
    invoice_id: str | None = None
    logged_at: datetime
    version: int = 1

    def __attrs_post_init__(self) -> None:
        check_minutes(self.minutes)
        if not self.role.strip():
            raise InvalidInput("A time entry names the role the work was done in.")
        if len(self.description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidInput(f"A description is at most {MAX_DESCRIPTION_LENGTH} characters.")

    @property
    def is_billed(self) -> bool:
        return self.invoice_id is not None

    def edited(
        self,
        *,
        minutes: int,
        role: str,
        work_date: date,
        description: str,
        billable: bool,
        on_draft: bool,
    ) -> TimeEntry:
        """The entry after an edit. Allowed while unbilled, or while only on a draft invoice
        (which is then recomputed); never once an issued invoice holds it."""
        if self.is_billed and not on_draft:
            raise InvalidTransition(
                "This time is on an issued invoice; correct it with a credit note instead."
            )
        return evolve(
            self,
            minutes=minutes,
            role=role.strip(),
            work_date=work_date,
            description=description.strip(),
            billable=billable,
            version=self.version + 1,
        )
