"""The portal's own database as the case system of record: the embedded default, no Salesforce.

The case's own id is its external id and its portal reference its number, so everything built
on the `CaseSystem` port (the write-back handlers, reconciliation, the contract suite) works
the same with or without Salesforce. Comments already live in the portal: there is nothing to
copy. A status set through this port (only ever the portal's own, in practice) is recorded as a
change by the case system, so the case's history explains it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from portal_core.cases.model import Case, CaseStatus
from portal_core.dispatch import EventDispatcher, record_change
from portal_core.errors import NotFound
from portal_core.ports import (
    MAX_PAGE_SIZE,
    CaseQuery,
    Clock,
    ExternalCase,
    IdGenerator,
    UnitOfWork,
    UnitOfWorkFactory,
)

CASE_SYSTEM_ACTOR = "system:case-system"


class PortalCaseSystem:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock,
        ids: IdGenerator,
        dispatcher: EventDispatcher | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._dispatcher = dispatcher

    def create_case(self, case: Case, *, account_id: str | None) -> ExternalCase:
        """The case as stored by the portal; idempotent, since it is the same record."""
        with self._uow() as uow:
            stored = uow.cases.get(case.id)
            if stored is None:
                raise NotFound(f"Case {case.reference} is not stored in the portal.")
            return self._external(uow, stored)

    def update_status(self, external_id: str, status: CaseStatus) -> None:
        with self._uow() as uow:
            case = self._require(uow, external_id)
            if case.status is status:
                return  # the usual case: the portal changed it and now writes it "back"
            now = self._clock.now()
            synced = case.sync_from(
                status=status,
                subject=case.subject,
                description=case.description,
                priority=case.priority,
                external_number=case.external_number or case.reference,
                external_modified_at=max(now, case.external_modified_at or now),
                actor_id=CASE_SYSTEM_ACTOR,
                event_id=self._ids.new_id(),
                at=now,
            )
            if synced is None:
                return
            updated, event = synced
            uow.history.append(event)
            record_change(
                uow,
                event,
                ids=self._ids,
                subject_type="case",
                subject_id=case.id,
                details={"from": case.status.value, "to": status.value},
            )
            uow.cases.update(updated, expected_version=case.version)
            uow.commit()
        if self._dispatcher is not None:
            self._dispatcher.dispatch([event])

    def add_public_comment(self, external_id: str, body: str) -> None:
        with self._uow() as uow:
            self._require(uow, external_id)

    def fetch(self, external_id: str) -> ExternalCase | None:
        with self._uow() as uow:
            case = self._find(uow, external_id)
            return None if case is None else self._external(uow, case)

    def changed_since(self, since: datetime) -> Iterator[ExternalCase]:
        with self._uow() as uow:
            changed: list[ExternalCase] = []
            page = 1
            while True:
                found = uow.cases.search(CaseQuery(page=page, page_size=MAX_PAGE_SIZE), scope=None)
                changed.extend(
                    self._external(uow, case) for case in found.items if case.updated_at >= since
                )
                if not found.has_next:
                    break
                page += 1
        changed.sort(key=lambda c: (c.last_modified, c.external_id))
        return iter(changed)

    @staticmethod
    def _find(uow: UnitOfWork, external_id: str) -> Case | None:
        return uow.cases.get(external_id) or uow.cases.by_external_id(external_id)

    def _require(self, uow: UnitOfWork, external_id: str) -> Case:
        case = self._find(uow, external_id)
        if case is None:
            raise NotFound(f"No case {external_id} in the portal.")
        return case

    @staticmethod
    def _external(uow: UnitOfWork, case: Case) -> ExternalCase:
        organisation = uow.organisations.get(case.organisation_id)
        return ExternalCase(
            external_id=case.id,
            number=case.reference,
            subject=case.subject,
            description=case.description,
            status=case.status,
            priority=case.priority,
            account_id=organisation.external_account_id if organisation else None,
            last_modified=case.updated_at,
        )
