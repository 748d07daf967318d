"""In-memory repositories and unit of work: a transactional fake of the SQL storage.

A unit of work works on a private copy of the state and swaps it in on commit, under one lock,
so the fake has the same all-or-nothing and isolation behaviour the contract tests demand of
SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from attrs import define, evolve, field

from adapters.memory.billing import (
    InMemoryCaseFeeRepository,
    InMemoryContractRepository,
    InMemoryCreditNoteRepository,
    InMemoryInvoiceRepository,
    InMemoryTimeEntryRepository,
)
from adapters.memory.identity import (
    InMemoryCredentialRepository,
    InMemoryOneTimeTokenRepository,
    InMemorySessionRepository,
    InMemorySignInAttemptLog,
)
from portal_core.audit import AuditRecord, SealedAuditRecord, seal
from portal_core.billing.contract import CaseFee, Contract
from portal_core.billing.invoice import CreditNote, Invoice
from portal_core.billing.time_entries import TimeEntry
from portal_core.cases.model import Attachment, Case, CaseEvent
from portal_core.errors import ConcurrencyConflict, Conflict, NotFound
from portal_core.idempotency import IdempotencyRecord, StoredResponse, completed
from portal_core.identity.model import Credential, OneTimeToken, Session, SignInAttempt
from portal_core.organisations.model import Organisation, Role, User
from portal_core.ports import CaseQuery, OutboxMessage, Page


@define
class InMemoryState:
    """Everything the in-memory storage holds. Copied per unit of work; values are immutable."""

    organisations: dict[str, Organisation] = field(factory=dict)
    users: dict[str, User] = field(factory=dict)
    cases: dict[str, Case] = field(factory=dict)
    history: list[CaseEvent] = field(factory=list)
    attachments: dict[str, Attachment] = field(factory=dict)
    audit: list[SealedAuditRecord] = field(factory=list)
    outbox: dict[str, OutboxMessage] = field(factory=dict)
    processed_events: dict[tuple[str, str], datetime] = field(factory=dict)
    counters: dict[str, int] = field(factory=dict)
    contracts: list[Contract] = field(factory=list)
    case_fees: dict[str, CaseFee] = field(factory=dict)
    time_entries: dict[str, TimeEntry] = field(factory=dict)
    invoices: dict[str, Invoice] = field(factory=dict)
    credit_notes: dict[str, CreditNote] = field(factory=dict)
    credentials: dict[str, Credential] = field(factory=dict)
    sessions: dict[str, Session] = field(factory=dict)
    one_time_tokens: dict[str, OneTimeToken] = field(factory=dict)
    sign_in_attempts: dict[str, SignInAttempt] = field(factory=dict)
    idempotency_keys: dict[tuple[str, str, str], IdempotencyRecord] = field(factory=dict)

    def copy(self) -> InMemoryState:
        return InMemoryState(
            organisations=dict(self.organisations),
            users=dict(self.users),
            cases=dict(self.cases),
            history=list(self.history),
            attachments=dict(self.attachments),
            audit=list(self.audit),
            outbox=dict(self.outbox),
            processed_events=dict(self.processed_events),
            counters=dict(self.counters),
            contracts=list(self.contracts),
            case_fees=dict(self.case_fees),
            time_entries=dict(self.time_entries),
            invoices=dict(self.invoices),
            credit_notes=dict(self.credit_notes),
            credentials=dict(self.credentials),
            sessions=dict(self.sessions),
            one_time_tokens=dict(self.one_time_tokens),
            sign_in_attempts=dict(self.sign_in_attempts),
            idempotency_keys=dict(self.idempotency_keys),
        )


class InMemoryOrganisationRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, organisation_id: str) -> Organisation | None:
        return self._state.organisations.get(organisation_id)

    def by_external_account(self, account_id: str) -> Organisation | None:
        return next(
            (o for o in self._state.organisations.values() if o.external_account_id == account_id),
            None,
        )

    def add(self, organisation: Organisation) -> None:
        if organisation.id in self._state.organisations:
            raise Conflict(f"Organisation {organisation.id} exists already.")
        if organisation.external_account_id and self.by_external_account(
            organisation.external_account_id
        ):
            raise Conflict("Another organisation is linked to that account already.")
        self._state.organisations[organisation.id] = organisation

    def update(self, organisation: Organisation) -> None:
        if organisation.id not in self._state.organisations:
            raise NotFound("No such organisation.")
        linked = (
            self.by_external_account(organisation.external_account_id)
            if organisation.external_account_id
            else None
        )
        if linked is not None and linked.id != organisation.id:
            raise Conflict("Another organisation is linked to that account already.")
        self._state.organisations[organisation.id] = organisation

    def list(self) -> Sequence[Organisation]:
        return sorted(self._state.organisations.values(), key=lambda o: (o.name.lower(), o.id))


class InMemoryUserRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, user_id: str) -> User | None:
        return self._state.users.get(user_id)

    def by_email(self, email: str) -> User | None:
        wanted = email.casefold()
        return next((u for u in self._state.users.values() if u.email.casefold() == wanted), None)

    def add(self, user: User) -> None:
        if user.id in self._state.users or self.by_email(user.email) is not None:
            raise Conflict(f"A user with the address {user.email} exists already.")
        self._state.users[user.id] = user

    def update(self, user: User) -> None:
        if user.id not in self._state.users:
            raise NotFound("No such user.")
        other = self.by_email(user.email)
        if other is not None and other.id != user.id:
            raise Conflict(f"A user with the address {user.email} exists already.")
        self._state.users[user.id] = user

    def for_organisation(self, organisation_id: str) -> Sequence[User]:
        return sorted(
            (u for u in self._state.users.values() if u.organisation_id == organisation_id),
            key=lambda u: (u.name.lower(), u.id),
        )

    def with_role(self, role: Role) -> Sequence[User]:
        return sorted(
            (u for u in self._state.users.values() if role in u.roles),
            key=lambda u: (u.name.lower(), u.id),
        )


class InMemoryCaseRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, case_id: str) -> Case | None:
        return self._state.cases.get(case_id)

    def by_external_id(self, external_id: str) -> Case | None:
        return next((c for c in self._state.cases.values() if c.external_id == external_id), None)

    def by_reference(self, reference: str) -> Case | None:
        return next((c for c in self._state.cases.values() if c.reference == reference), None)

    def add(self, case: Case) -> None:
        if case.id in self._state.cases or self.by_reference(case.reference) is not None:
            raise Conflict(f"Case {case.reference} exists already.")
        self._state.cases[case.id] = case

    def update(self, case: Case, *, expected_version: int) -> None:
        stored = self._state.cases.get(case.id)
        if stored is None:
            raise NotFound("No such case.")
        if stored.version != expected_version:
            raise ConcurrencyConflict(
                f"Case {case.reference} was changed by someone else; reload it and try again."
            )
        if case.external_id is not None:
            other = self.by_external_id(case.external_id)
            if other is not None and other.id != case.id:
                raise Conflict("Another case is linked to that external record already.")
        self._state.cases[case.id] = case

    def by_external_ids(self, external_ids: Collection[str]) -> Mapping[str, Case]:
        wanted = set(external_ids)
        return {
            c.external_id: c
            for c in self._state.cases.values()
            if c.external_id is not None and c.external_id in wanted
        }

    def update_many(self, changes: Sequence[tuple[Case, int]]) -> None:
        for case, expected_version in changes:
            self.update(case, expected_version=expected_version)

    def search(self, query: CaseQuery, *, scope: str | None) -> Page[Case]:
        text = query.text.casefold() if query.text else None
        organisation_id = scope if scope is not None else query.organisation_id
        matches = [
            case
            for case in self._state.cases.values()
            if (organisation_id is None or case.organisation_id == organisation_id)
            and (not query.statuses or case.status in query.statuses)
            and (query.priority is None or case.priority is query.priority)
            and (query.assignee_id is None or case.assignee_id == query.assignee_id)
            and (
                text is None
                or text in case.subject.casefold()
                or text in case.reference.casefold()
                or (case.external_number is not None and text in case.external_number.casefold())
            )
        ]
        matches.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
        return Page(
            items=tuple(matches[query.offset : query.offset + query.page_size]),
            total=len(matches),
            page=query.page,
            page_size=query.page_size,
        )


class InMemoryCaseHistory:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def append(self, event: CaseEvent) -> None:
        if any(e.event_id == event.event_id for e in self._state.history):
            raise Conflict(f"Event {event.event_id} is recorded already.")
        self._state.history.append(event)

    def append_many(self, events: Sequence[CaseEvent]) -> None:
        for event in events:
            self.append(event)

    def for_case(self, case_id: str) -> Sequence[CaseEvent]:
        return [e for e in self._state.history if e.case_id == case_id]

    def recent(self, *, scope: str | None, limit: int) -> Sequence[CaseEvent]:
        events = [e for e in self._state.history if scope is None or e.organisation_id == scope]
        return list(reversed(events))[:limit]


class InMemoryAttachmentRepository:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def get(self, attachment_id: str) -> Attachment | None:
        return self._state.attachments.get(attachment_id)

    def add(self, attachment: Attachment) -> None:
        if attachment.id in self._state.attachments:
            raise Conflict(f"Attachment {attachment.id} exists already.")
        self._state.attachments[attachment.id] = attachment

    def for_case(self, case_id: str) -> Sequence[Attachment]:
        return sorted(
            (a for a in self._state.attachments.values() if a.case_id == case_id),
            key=lambda a: (a.uploaded_at, a.id),
        )


class InMemoryAuditLog:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def append(self, record: AuditRecord) -> SealedAuditRecord:
        if any(e.record.id == record.id for e in self._state.audit):
            raise Conflict(f"Audit entry {record.id} is recorded already.")
        sealed = seal(record, after=self._state.audit[-1] if self._state.audit else None)
        self._state.audit.append(sealed)
        return sealed

    def append_many(self, records: Sequence[AuditRecord]) -> Sequence[SealedAuditRecord]:
        return [self.append(record) for record in records]

    def entries(self, *, after_sequence: int = 0) -> Iterator[SealedAuditRecord]:
        return iter([e for e in self._state.audit if e.sequence > after_sequence])


class InMemoryOutbox:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def add(self, message: OutboxMessage) -> None:
        if message.id in self._state.outbox:
            raise Conflict(f"Outbox message {message.id} exists already.")
        self._state.outbox[message.id] = message

    def add_many(self, messages: Sequence[OutboxMessage]) -> None:
        for message in messages:
            self.add(message)

    def claim(self, *, limit: int, now: datetime, lease: timedelta) -> Sequence[OutboxMessage]:
        due = sorted(
            (
                m
                for m in self._state.outbox.values()
                if m.delivered_at is None and m.available_at <= now
            ),
            key=lambda m: (m.available_at, m.created_at, m.id),
        )[:limit]
        claimed = []
        for message in due:
            leased = evolve(message, available_at=now + lease, attempts=message.attempts + 1)
            self._state.outbox[message.id] = leased
            claimed.append(leased)
        return claimed

    def _stored(self, message_id: str) -> OutboxMessage:
        if message_id not in self._state.outbox:
            raise NotFound("No such outbox message.")
        return self._state.outbox[message_id]

    def mark_delivered(self, message_id: str, *, at: datetime) -> None:
        self._state.outbox[message_id] = evolve(self._stored(message_id), delivered_at=at)

    def mark_failed(self, message_id: str, *, error: str, retry_at: datetime) -> None:
        self._state.outbox[message_id] = evolve(
            self._stored(message_id), last_error=error, available_at=retry_at
        )

    def pending_count(self) -> int:
        return sum(1 for m in self._state.outbox.values() if m.delivered_at is None)


class InMemoryProcessedEvents:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def record(self, source: str, event_id: str, *, at: datetime) -> bool:
        key = (source, event_id)
        if key in self._state.processed_events:
            return False
        self._state.processed_events[key] = at
        return True

    def record_many(
        self, events: Iterable[tuple[str, str]], *, at: datetime
    ) -> frozenset[tuple[str, str]]:
        return frozenset(
            (source, event_id)
            for source, event_id in events
            if self.record(source, event_id, at=at)
        )


class InMemoryCounters:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def next_value(self, series: str) -> int:
        value = self._state.counters.get(series, 0) + 1
        self._state.counters[series] = value
        return value


class InMemoryIdempotencyKeys:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def claim(self, record: IdempotencyRecord) -> bool:
        index = (record.owner, record.route, record.key)
        if index in self._state.idempotency_keys:
            return False
        self._state.idempotency_keys[index] = record
        return True

    def get(self, owner: str, route: str, key: str) -> IdempotencyRecord | None:
        return self._state.idempotency_keys.get((owner, route, key))

    def take_over(self, record: IdempotencyRecord, *, previous_started_at: datetime) -> bool:
        index = (record.owner, record.route, record.key)
        stored = self._state.idempotency_keys.get(index)
        if stored is None or stored.started_at != previous_started_at:
            return False
        self._state.idempotency_keys[index] = record
        return True

    def complete(
        self, owner: str, route: str, key: str, *, started_at: datetime, response: StoredResponse
    ) -> None:
        stored = self._state.idempotency_keys.get((owner, route, key))
        if stored is not None and stored.started_at == started_at:
            self._state.idempotency_keys[(owner, route, key)] = completed(stored, response)

    def release(self, owner: str, route: str, key: str, *, started_at: datetime) -> None:
        stored = self._state.idempotency_keys.get((owner, route, key))
        if stored is not None and stored.started_at == started_at and stored.response is None:
            del self._state.idempotency_keys[(owner, route, key)]

    def delete_expired(self, now: datetime) -> int:
        expired = [i for i, r in self._state.idempotency_keys.items() if r.expires_at <= now]
        for index in expired:
            del self._state.idempotency_keys[index]
        return len(expired)


class InMemoryUnitOfWork:
    """A unit of work over an `InMemoryStorage`. Use one per transaction, as with SQL."""

    def __init__(self, storage: InMemoryStorage, *, read_only: bool = False) -> None:
        self._storage = storage
        self._read_only = read_only
        self._working: InMemoryState | None = None

    def __enter__(self) -> Self:
        self._storage.lock.acquire()
        self._working = self._storage.state.copy()
        state = self._working
        self.organisations = InMemoryOrganisationRepository(state)
        self.users = InMemoryUserRepository(state)
        self.cases = InMemoryCaseRepository(state)
        self.history = InMemoryCaseHistory(state)
        self.attachments = InMemoryAttachmentRepository(state)
        self.audit = InMemoryAuditLog(state)
        self.outbox = InMemoryOutbox(state)
        self.processed_events = InMemoryProcessedEvents(state)
        self.counters = InMemoryCounters(state)
        self.contracts = InMemoryContractRepository(state)
        self.case_fees = InMemoryCaseFeeRepository(state)
        self.time_entries = InMemoryTimeEntryRepository(state)
        self.invoices = InMemoryInvoiceRepository(state)
        self.credit_notes = InMemoryCreditNoteRepository(state)
        self.credentials = InMemoryCredentialRepository(state)
        self.sessions = InMemorySessionRepository(state)
        self.one_time_tokens = InMemoryOneTimeTokenRepository(state)
        self.sign_in_attempts = InMemorySignInAttemptLog(state)
        self.idempotency_keys = InMemoryIdempotencyKeys(state)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._working = None
        self._storage.lock.release()

    def commit(self) -> None:
        if self._working is None:
            raise RuntimeError("commit() outside `with unit_of_work:`")
        if self._read_only:
            raise RuntimeError("A read-only unit of work cannot commit.")
        self._storage.state = self._working
        self._working = self._working.copy()
        self._rebind(self._working)

    def rollback(self) -> None:
        if self._working is None:
            raise RuntimeError("rollback() outside `with unit_of_work:`")
        self._working = self._storage.state.copy()
        self._rebind(self._working)

    def _rebind(self, state: InMemoryState) -> None:
        for repository in (
            self.organisations,
            self.users,
            self.cases,
            self.history,
            self.attachments,
            self.audit,
            self.outbox,
            self.processed_events,
            self.counters,
            self.contracts,
            self.case_fees,
            self.time_entries,
            self.invoices,
            self.credit_notes,
            self.credentials,
            self.sessions,
            self.one_time_tokens,
            self.sign_in_attempts,
            self.idempotency_keys,
        ):
            repository._state = state


class InMemoryStorage:
    """The whole in-memory database; `storage.unit_of_work` is a `UnitOfWorkFactory`."""

    def __init__(self) -> None:
        self.state = InMemoryState()
        self.lock = threading.RLock()

    def unit_of_work(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self, read_only=read_only)
