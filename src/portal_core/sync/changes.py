"""What the case system of record tells the portal: one change to one case, already translated.

Adapters (the Salesforce outbound-message and change-event parsers, reconciliation) turn their
wire formats into `InboundCaseChange`s; the core never sees a vendor's field names.
"""

from __future__ import annotations

from datetime import datetime

from attrs import field, frozen

from portal_core.cases.model import CaseStatus, Priority
from portal_core.errors import InvalidInput

SOURCE_OUTBOUND_MESSAGE = "salesforce:outbound"
SOURCE_CHANGE_EVENT = "salesforce:cdc"
SOURCE_RECONCILIATION = "salesforce:reconcile"

SYNC_ACTOR = "system:salesforce"
"""The actor named in history and audit for every change the system of record made."""


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput("A change's modification time must carry its time zone.")
    return value


@frozen(kw_only=True)
class InboundCaseChange:
    """One record version from the case system, as typed values.

    A field left as None was not carried by the change (change events carry only the changed
    fields; an outbound message only the fields chosen in its definition) and keeps the value
    the portal holds.
    """

    source: str
    """Where it came from, e.g. "salesforce:outbound"; de-duplication is per source."""
    event_id: str
    """The notification or event id: a second delivery of the same id is discarded."""
    external_id: str
    """The case's id in the case system (the Salesforce Case Id)."""
    modified_at: datetime = field(converter=_aware)
    """The record version: LastModifiedDate, or the change event's commit timestamp."""
    account_id: str | None = None
    number: str | None = None
    subject: str | None = None
    description: str | None = None
    status: CaseStatus | None = None
    priority: Priority | None = None
    portal_case_id: str | None = None
    """The portal's own case id when the case was created by the portal (the external id field)."""
    from_portal: bool = False
    """Made by the portal's own integration user or client: an echo of the portal's own write."""
    whole_record: bool = False
    """Read in full from the case system: a None here is an empty value, not a missing one."""

    def __attrs_post_init__(self) -> None:
        if not self.source or not self.event_id or not self.external_id:
            raise InvalidInput("A change needs its source, its event id and the case's id.")

    @property
    def is_complete(self) -> bool:
        """Carries everything needed to import a case the portal does not know yet."""
        if None in (self.number, self.subject, self.status):
            return False
        return self.whole_record or self.account_id is not None


@frozen(kw_only=True)
class SyncResult:
    """What one message did. Acknowledge it only after `SyncService.apply` returned this."""

    applied: int = 0
    """Changes that moved a case the portal knew."""
    imported: int = 0
    """Cases the portal did not know yet, created from the case system."""
    duplicates: int = 0
    """Event ids seen before: discarded."""
    stale: int = 0
    """Versions not newer than the one the portal holds: never applied over a newer one."""
    unchanged: int = 0
    """Newer versions with nothing new for the portal, such as the echo of its own write: the
    case's version mark moved on, with no history entry, e-mail or live update."""
    changed_case_ids: tuple[str, ...] = ()

    @property
    def received(self) -> int:
        return self.applied + self.imported + self.duplicates + self.stale + self.unchanged


class UnknownAccount(InvalidInput):
    """A case belongs to an account no organisation is linked to (yet).

    The whole message is refused, nothing of it is stored, and the sender keeps retrying: the
    right outcome when the account is about to be onboarded, and visible in Salesforce's queue.
    """

    code = "unknown_account"

    def __init__(self, external_id: str, account_id: str | None) -> None:
        account = account_id or "no account"
        super().__init__(
            f"Case {external_id} belongs to {account}, which no client organisation is linked to."
        )
        self.external_id = external_id
        self.account_id = account_id


class IncompleteChange(InvalidInput):
    """A case the portal does not know arrived without the fields needed to import it.

    The caller may re-read the record from the case system and apply the full version.
    """

    code = "incomplete_change"

    def __init__(self, external_ids: tuple[str, ...]) -> None:
        super().__init__(
            "Cannot import case(s) "
            + ", ".join(external_ids)
            + ": the change does not carry the case number, subject and status."
        )
        self.external_ids = external_ids
