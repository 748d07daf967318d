"""The idempotency layer for changes from the case system of record.

One message (an outbound message of up to 100 notifications, a change event, a page of a
reconciliation) is applied in ONE unit of work: the processed-event records, the case changes,
their history, audit entries and outbox rows commit together or not at all. The caller
acknowledges the message only after `apply` has returned, so nothing is acknowledged that was
not committed, and a message that failed half-way leaves nothing behind for its retry to trip on.

The rules, per change:
1. an event id seen before (per source) is a duplicate and is discarded;
2. a version not newer than the one the case holds (`external_modified_at`) is stale: an older
   version never overwrites a newer one;
3. a newer version that brings nothing new (the echo of the portal's own write, or a change to
   fields the portal does not mirror) only moves the case's version mark on: no history entry,
   no e-mail, no live update;
4. a change made by the portal's own integration user never moves the status: the portal wrote
   that status itself, and may have written a newer one since;
5. a case the portal does not know, of an account linked to an organisation, is imported; of
   an unknown account, the whole message is refused (`UnknownAccount`).
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Iterable

from attrs import evolve

from portal_core.cases.model import Case, CaseEvent, Priority
from portal_core.cases.service import CASE_REFERENCE_SERIES, format_case_reference
from portal_core.dispatch import EventDispatcher, record_change
from portal_core.errors import Conflict
from portal_core.events import DomainEvent
from portal_core.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from portal_core.sync.changes import (
    SYNC_ACTOR,
    InboundCaseChange,
    IncompleteChange,
    SyncResult,
    UnknownAccount,
)

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    APPLIED = "applied"
    IMPORTED = "imported"
    DUPLICATE = "duplicate"
    STALE = "stale"
    UNCHANGED = "unchanged"
    INCOMPLETE = "incomplete"
    """Cannot be imported from what it carries: the whole message is refused (IncompleteChange)."""


class SyncService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        dispatcher: EventDispatcher,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._dispatcher = dispatcher

    def apply(self, changes: Iterable[InboundCaseChange]) -> SyncResult:
        """Apply one message's changes atomically; raise (storing nothing) if any is refused.

        Raises UnknownAccount for a new case of an account no organisation is linked to, and
        IncompleteChange (naming every such case) for new cases that arrived without their
        number, subject or status; the caller may re-read those and call again.
        """
        outcomes: Counter[Outcome] = Counter()
        changed: list[str] = []
        events: list[DomainEvent] = []
        incomplete: list[str] = []
        with self._uow() as uow:
            for change in changes:
                outcome, case_id = self._one(uow, change, events, incomplete)
                outcomes[outcome] += 1
                if outcome in (Outcome.APPLIED, Outcome.IMPORTED) and case_id is not None:
                    changed.append(case_id)
            if incomplete:
                raise IncompleteChange(tuple(dict.fromkeys(incomplete)))
            uow.commit()
        self._dispatcher.dispatch(events)
        result = SyncResult(
            applied=outcomes[Outcome.APPLIED],
            imported=outcomes[Outcome.IMPORTED],
            duplicates=outcomes[Outcome.DUPLICATE],
            stale=outcomes[Outcome.STALE],
            unchanged=outcomes[Outcome.UNCHANGED],
            changed_case_ids=tuple(dict.fromkeys(changed)),
        )
        log.debug(
            "sync applied=%d imported=%d duplicates=%d stale=%d unchanged=%d",
            result.applied,
            result.imported,
            result.duplicates,
            result.stale,
            result.unchanged,
        )
        return result

    def linked_accounts(self) -> frozenset[str]:
        """The case-system accounts some organisation mirrors: the cases the portal takes."""
        with self._uow() as uow:
            return frozenset(
                o.external_account_id for o in uow.organisations.list() if o.external_account_id
            )

    # --- one change ---------------------------------------------------------------------------

    def _one(
        self,
        uow: UnitOfWork,
        change: InboundCaseChange,
        events: list[DomainEvent],
        incomplete: list[str],
    ) -> tuple[Outcome, str | None]:
        if not uow.processed_events.record(change.source, change.event_id, at=self._clock.now()):
            return Outcome.DUPLICATE, None
        case = self._find(uow, change)
        if case is None:
            imported = self._import(uow, change, events, incomplete)
            return (
                (Outcome.INCOMPLETE, None) if imported is None else (Outcome.IMPORTED, imported.id)
            )
        return self._sync(uow, case, change, events, incomplete), case.id

    def _find(self, uow: UnitOfWork, change: InboundCaseChange) -> Case | None:
        case = uow.cases.by_external_id(change.external_id)
        if case is not None or change.portal_case_id is None:
            return case
        # A case the portal created, whose creation comes back before the write-back handler
        # linked it: it is the same case, never an import of a second one.
        own = uow.cases.get(change.portal_case_id)
        if own is not None and own.external_id not in (None, change.external_id):
            raise Conflict(
                f"Case {own.reference} is linked to {own.external_id}, not to {change.external_id}."
            )
        return own

    def _sync(
        self,
        uow: UnitOfWork,
        case: Case,
        change: InboundCaseChange,
        events: list[DomainEvent],
        incomplete: list[str],
    ) -> Outcome:
        stored_version = case.version
        if (
            case.external_modified_at is not None
            and change.modified_at <= case.external_modified_at
        ):
            return Outcome.STALE
        if case.external_id is None:
            if change.number is None:
                incomplete.append(change.external_id)
                return Outcome.INCOMPLETE
            case, linked = case.link(
                external_id=change.external_id,
                external_number=change.number,
                actor_id=SYNC_ACTOR,
                event_id=self._ids.new_id(),
                at=self._clock.now(),
            )
            self._store(uow, linked, case)
            events.append(linked)
        synced = case.sync_from(
            status=case.status if change.from_portal else (change.status or case.status),
            # A subject cleared in Salesforce keeps the portal's: every case is shown by one.
            subject=change.subject if change.subject and change.subject.strip() else case.subject,
            description=case.description if change.description is None else change.description,
            priority=change.priority or case.priority,
            external_number=change.number or case.external_number or case.reference,
            external_modified_at=change.modified_at,
            actor_id=SYNC_ACTOR,
            event_id=self._ids.new_id(),
            at=self._clock.now(),
        )
        assert synced is not None, "newer versions were checked above"
        updated, event = synced
        if _same_values(case, updated):
            marked = evolve(case, external_modified_at=change.modified_at, version=case.version + 1)
            uow.cases.update(marked, expected_version=stored_version)
            return Outcome.APPLIED if case.version != stored_version else Outcome.UNCHANGED
        self._store(uow, event, updated)
        events.append(event)
        uow.cases.update(updated, expected_version=stored_version)
        return Outcome.APPLIED

    def _import(
        self,
        uow: UnitOfWork,
        change: InboundCaseChange,
        events: list[DomainEvent],
        incomplete: list[str],
    ) -> Case | None:
        if not change.is_complete:
            incomplete.append(change.external_id)
            return None
        organisation = (
            uow.organisations.by_external_account(change.account_id) if change.account_id else None
        )
        if organisation is None:
            raise UnknownAccount(change.external_id, change.account_id)
        assert change.number is not None
        assert change.subject is not None
        assert change.status is not None
        now = self._clock.now()
        case, submitted = Case.submit(
            case_id=self._ids.new_id(),
            organisation_id=organisation.id,
            reference=format_case_reference(uow.counters.next_value(CASE_REFERENCE_SERIES)),
            # Salesforce allows a case without a subject; the portal shows every case by one.
            subject=change.subject if change.subject.strip() else f"Case {change.number}",
            description=change.description or "",
            priority=change.priority or Priority.NORMAL,
            submitted_by=SYNC_ACTOR,
            event_id=self._ids.new_id(),
            at=now,
        )
        uow.cases.add(case)
        self._store(uow, submitted, case)
        case, linked = case.link(
            external_id=change.external_id,
            external_number=change.number,
            actor_id=SYNC_ACTOR,
            event_id=self._ids.new_id(),
            at=now,
        )
        self._store(uow, linked, case)
        events.extend([submitted, linked])
        synced = case.sync_from(
            status=change.status,
            subject=case.subject,
            description=case.description,
            priority=case.priority,
            external_number=change.number,
            external_modified_at=change.modified_at,
            actor_id=SYNC_ACTOR,
            event_id=self._ids.new_id(),
            at=now,
        )
        assert synced is not None, "a new case holds no version yet"
        updated, event = synced
        if updated.status is not case.status:
            self._store(uow, event, updated)
            events.append(event)
        else:
            updated = evolve(
                case, external_modified_at=change.modified_at, version=case.version + 1
            )
        uow.cases.update(updated, expected_version=1)
        return updated

    def _store(self, uow: UnitOfWork, event: CaseEvent, case: Case) -> None:
        uow.history.append(event)
        record_change(
            uow,
            event,
            ids=self._ids,
            subject_type="case",
            subject_id=case.id,
            details={"case_reference": case.reference},
        )


def _same_values(before: Case, after: Case) -> bool:
    return (
        before.status is after.status
        and before.subject == after.subject
        and before.description == after.description
        and before.priority is after.priority
        and before.external_number == after.external_number
    )
