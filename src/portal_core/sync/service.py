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

Locks are taken in the order every use case of the portal takes them, so that concurrent
deliveries and portal writes wait for each other instead of deadlocking: the processed-event
records (sorted by id), the case-reference counter (imports), new cases, then history, audit
and outbox (the audit chain's head serialises writers), and the existing cases last, by id.

Set-wise, for throughput: one message costs a fixed handful of statements whatever its size
(processed events recorded in one multi-row insert, its cases read in one query, history,
audit entries and outbox rows each written in one batch after one locked read of the audit
head, the changed cases updated in one versioned batch), not several per notification.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Iterable

from attrs import define, evolve

from portal_core.audit import AuditRecord
from portal_core.cases.model import Case, CaseEvent, Priority
from portal_core.cases.service import CASE_REFERENCE_SERIES, format_case_reference
from portal_core.dispatch import EventDispatcher
from portal_core.errors import Conflict
from portal_core.ports import Clock, IdGenerator, OutboxMessage, UnitOfWork, UnitOfWorkFactory
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


@define
class _Pending:
    """A case as this message leaves it, and the version it had when read (None: imported)."""

    case: Case
    stored_version: int | None


class _Message:
    """The cases one message touches, kept in memory until they are written, in lock order."""

    def __init__(self, uow: UnitOfWork, external_ids: Iterable[str]) -> None:
        self._uow = uow
        self.cases: dict[str, _Pending] = {}
        self._by_external_id: dict[str, str] = {}
        self.events: list[tuple[CaseEvent, Case]] = []
        # Every case the message names, read at once; an id absent here is not linked yet.
        wanted = set(external_ids)
        self._stored = uow.cases.by_external_ids(wanted) if wanted else {}
        self._read = wanted

    def find(self, change: InboundCaseChange) -> Case | None:
        known = self._by_external_id.get(change.external_id)
        if known is not None:
            return self.cases[known].case
        if change.portal_case_id is not None and change.portal_case_id in self.cases:
            return self._own(self.cases[change.portal_case_id].case, change)
        if change.external_id in self._read:
            case = self._stored.get(change.external_id)
        else:
            case = self._uow.cases.by_external_id(change.external_id)
        if case is None and change.portal_case_id is not None:
            # A case the portal created, whose creation comes back before the write-back
            # handler linked it: it is the same case, never an import of a second one.
            own = self._uow.cases.get(change.portal_case_id)
            case = None if own is None else self._own(own, change)
        if case is not None:
            self.cases.setdefault(case.id, _Pending(case, case.version))
            self.put(case)
        return case

    def put(self, case: Case, *, new: bool = False) -> None:
        if new:
            self.cases[case.id] = _Pending(case, None)
        self.cases[case.id].case = case
        if case.external_id is not None:
            self._by_external_id[case.external_id] = case.id

    def record(self, event: CaseEvent, case: Case) -> None:
        self.events.append((event, case))

    @staticmethod
    def _own(case: Case, change: InboundCaseChange) -> Case:
        if case.external_id not in (None, change.external_id):
            raise Conflict(
                f"Case {case.reference} is linked to {case.external_id}, "
                f"not to {change.external_id}."
            )
        return case


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
        incomplete: list[str] = []
        received = list(changes)
        with self._uow() as uow:
            ordered = sorted(received, key=lambda c: (c.source, c.event_id))
            new = uow.processed_events.record_many(
                [(c.source, c.event_id) for c in ordered], at=self._clock.now()
            )
            fresh: list[InboundCaseChange] = []
            claimed: set[tuple[str, str]] = set()
            for change in ordered:
                key = (change.source, change.event_id)
                if key in new and key not in claimed:
                    claimed.add(key)
                    fresh.append(change)
                else:
                    outcomes[Outcome.DUPLICATE] += 1
            message = _Message(uow, (c.external_id for c in fresh))
            # Per case, oldest version first: each version it went through is in its history.
            for change in sorted(fresh, key=lambda c: (c.external_id, c.modified_at, c.event_id)):
                outcome, case_id = self._one(uow, message, change, incomplete)
                outcomes[outcome] += 1
                if outcome in (Outcome.APPLIED, Outcome.IMPORTED) and case_id is not None:
                    changed.append(case_id)
            if incomplete:
                raise IncompleteChange(tuple(dict.fromkeys(incomplete)))
            self._write(uow, message)
            uow.commit()
        self._dispatcher.dispatch(event for event, _ in message.events)
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
        with self._uow(read_only=True) as uow:
            return frozenset(
                o.external_account_id for o in uow.organisations.list() if o.external_account_id
            )

    # --- one change ---------------------------------------------------------------------------

    def _one(
        self,
        uow: UnitOfWork,
        message: _Message,
        change: InboundCaseChange,
        incomplete: list[str],
    ) -> tuple[Outcome, str | None]:
        case = message.find(change)
        if case is None:
            imported = self._import(uow, message, change, incomplete)
            if imported is None:
                return Outcome.INCOMPLETE, None
            return Outcome.IMPORTED, imported.id
        return self._sync(message, case, change, incomplete), case.id

    def _sync(
        self,
        message: _Message,
        case: Case,
        change: InboundCaseChange,
        incomplete: list[str],
    ) -> Outcome:
        if (
            case.external_modified_at is not None
            and change.modified_at <= case.external_modified_at
        ):
            return Outcome.STALE
        linked_now = False
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
            message.record(linked, case)
            linked_now = True
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
            message.put(
                evolve(case, external_modified_at=change.modified_at, version=case.version + 1)
            )
            return Outcome.APPLIED if linked_now else Outcome.UNCHANGED
        message.record(event, updated)
        message.put(updated)
        return Outcome.APPLIED

    def _import(
        self,
        uow: UnitOfWork,
        message: _Message,
        change: InboundCaseChange,
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
        message.put(case, new=True)
        message.record(submitted, case)
        case, linked = case.link(
            external_id=change.external_id,
            external_number=change.number,
            actor_id=SYNC_ACTOR,
            event_id=self._ids.new_id(),
            at=now,
        )
        message.record(linked, case)
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
            message.record(event, updated)
        else:
            updated = evolve(
                case, external_modified_at=change.modified_at, version=case.version + 1
            )
        message.put(updated)
        return updated

    # --- writing, in lock order -------------------------------------------------------------

    def _write(self, uow: UnitOfWork, message: _Message) -> None:
        ordered = [message.cases[case_id] for case_id in sorted(message.cases)]
        for pending in ordered:
            if pending.stored_version is None:
                uow.cases.add(pending.case)
        # What `record_change` does per event, for the whole message at once.
        events = [event for event, _ in message.events]
        uow.history.append_many(events)
        uow.audit.append_many(
            [
                AuditRecord(
                    id=self._ids.new_id(),
                    at=event.occurred_at,
                    actor_id=event.actor_id,
                    organisation_id=event.organisation_id,
                    action=event.kind,
                    subject_type="case",
                    subject_id=case.id,
                    details={"case_reference": case.reference},
                )
                for event, case in message.events
            ]
        )
        uow.outbox.add_many(
            [
                OutboxMessage(
                    id=event.event_id,
                    event=event,
                    created_at=event.occurred_at,
                    available_at=event.occurred_at,
                )
                for event in events
            ]
        )
        # Existing cases last, as every use case of the portal does (audit head, then the case).
        uow.cases.update_many(
            [
                (pending.case, pending.stored_version)
                for pending in ordered
                if pending.stored_version is not None
                and pending.case.version != pending.stored_version
            ]
        )


def _same_values(before: Case, after: Case) -> bool:
    return (
        before.status is after.status
        and before.subject == after.subject
        and before.description == after.description
        and before.priority is after.priority
        and before.external_number == after.external_number
    )
