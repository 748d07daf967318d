"""Ports: everything the core needs from outside, as `typing.Protocol`s named for their role.

Adapters in `adapters/` implement these; `adapters.memory` has an in-memory fake of each,
proven against the real adapters by the contract suites in `tests/contract/`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Protocol, Self, TypeVar

from attrs import field, frozen

from portal_core.audit import AuditRecord, SealedAuditRecord
from portal_core.cases.model import Attachment, Case, CaseEvent, CaseStatus, Priority
from portal_core.errors import InvalidInput
from portal_core.events import DomainEvent
from portal_core.organisations.model import Organisation, Principal, Role, User

if TYPE_CHECKING:  # billing's own modules import this one; its repositories are only named here
    from portal_core.billing.ports import (
        CaseFeeRepository,
        ContractRepository,
        CreditNoteRepository,
        InvoiceRepository,
        TimeEntryRepository,
    )
    from portal_core.idempotency import IdempotencyKeys
    from portal_core.identity.ports import (
        CredentialRepository,
        OneTimeTokenRepository,
        SessionRepository,
        SignInAttemptLog,
    )

T = TypeVar("T")

MAX_PAGE_SIZE = 100


# --- time and identity of things -------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new unique identifier (a UUID in production)."""
        ...


# --- queries -----------------------------------------------------------------------------------


def _statuses(
    value: frozenset[CaseStatus] | set[CaseStatus] | tuple[CaseStatus, ...],
) -> frozenset[CaseStatus]:
    return frozenset(value)


@frozen(kw_only=True)
class CaseQuery:
    """Filters for a case list. Newest activity first; pages count from 1."""

    organisation_id: str | None = None
    statuses: frozenset[CaseStatus] = field(factory=frozenset, converter=_statuses)
    priority: Priority | None = None
    assignee_id: str | None = None
    text: str | None = None
    """Matched case-insensitively against the subject and the case numbers."""
    page: int = 1
    page_size: int = 25

    def __attrs_post_init__(self) -> None:
        if self.page < 1:
            raise InvalidInput("Pages count from 1.")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"A page holds 1 to {MAX_PAGE_SIZE} cases.")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@frozen(kw_only=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    page: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.total


# --- repositories and the unit of work ---------------------------------------------------------


class OrganisationRepository(Protocol):
    def get(self, organisation_id: str) -> Organisation | None: ...
    def by_external_account(self, account_id: str) -> Organisation | None: ...
    def add(self, organisation: Organisation) -> None: ...
    def update(self, organisation: Organisation) -> None: ...
    def list(self) -> Sequence[Organisation]: ...


class UserRepository(Protocol):
    def get(self, user_id: str) -> User | None: ...
    def by_email(self, email: str) -> User | None:
        """Case-insensitive: e-mail addresses are unique regardless of case."""
        ...

    def add(self, user: User) -> None:
        """Raises Conflict when the e-mail address is taken."""
        ...

    def update(self, user: User) -> None: ...
    def for_organisation(self, organisation_id: str) -> Sequence[User]: ...
    def with_role(self, role: Role) -> Sequence[User]: ...


class CaseRepository(Protocol):
    def get(self, case_id: str) -> Case | None: ...
    def by_external_id(self, external_id: str) -> Case | None: ...
    def by_reference(self, reference: str) -> Case | None: ...
    def add(self, case: Case) -> None: ...
    def update(self, case: Case, *, expected_version: int) -> None:
        """Store `case`; raise ConcurrencyConflict if the stored version is not `expected_version`."""
        ...

    def by_external_ids(self, external_ids: Collection[str]) -> Mapping[str, Case]:
        """The cases linked to these external records, by external id (unknown ids are absent);
        one read for a whole inbound message."""
        ...

    def update_many(self, changes: Sequence[tuple[Case, int]]) -> None:
        """`update` for each (case, expected version), in the order given (callers sort by id,
        the portal's lock order); ConcurrencyConflict or NotFound as `update` would raise."""
        ...

    def search(self, query: CaseQuery, *, scope: str | None) -> Page[Case]:
        """Cases matching `query`, limited to organisation `scope` unless it is None (staff)."""
        ...


class CaseHistory(Protocol):
    """Every case's events, in order: the source of its timeline."""

    def append(self, event: CaseEvent) -> None: ...
    def append_many(self, events: Sequence[CaseEvent]) -> None:
        """`append` for each event, in order, in one go."""
        ...

    def for_case(self, case_id: str) -> Sequence[CaseEvent]: ...
    def recent(self, *, scope: str | None, limit: int) -> Sequence[CaseEvent]:
        """The newest events across cases of organisation `scope` (all when None), newest first."""
        ...


class AttachmentRepository(Protocol):
    def get(self, attachment_id: str) -> Attachment | None: ...
    def add(self, attachment: Attachment) -> None: ...
    def for_case(self, case_id: str) -> Sequence[Attachment]: ...


class AuditLog(Protocol):
    def append(self, record: AuditRecord) -> SealedAuditRecord:
        """Seal `record` after the current last entry and store it; entries are never changed."""
        ...

    def append_many(self, records: Sequence[AuditRecord]) -> Sequence[SealedAuditRecord]:
        """`append` for each record, in order: the chain's head is read (and locked) once."""
        ...

    def entries(self, *, after_sequence: int = 0) -> Iterator[SealedAuditRecord]: ...


@frozen(kw_only=True)
class OutboxMessage:
    """A side effect to carry out after commit (an e-mail, a write to Salesforce), at least once."""

    id: str
    event: DomainEvent
    created_at: datetime
    attempts: int = 0
    available_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None


class Outbox(Protocol):
    def add(self, message: OutboxMessage) -> None: ...
    def add_many(self, messages: Sequence[OutboxMessage]) -> None:
        """`add` for each message, in one go; Conflict if any exists already."""
        ...

    def claim(self, *, limit: int, now: datetime, lease: timedelta) -> Sequence[OutboxMessage]:
        """Up to `limit` due messages, hidden from other claimers until `now + lease`."""
        ...

    def mark_delivered(self, message_id: str, *, at: datetime) -> None: ...
    def mark_failed(self, message_id: str, *, error: str, retry_at: datetime) -> None: ...
    def pending_count(self) -> int: ...


class ProcessedEvents(Protocol):
    def record(self, source: str, event_id: str, *, at: datetime) -> bool:
        """Remember that (`source`, `event_id`) was handled; False if it already was."""
        ...

    def record_many(
        self, events: Iterable[tuple[str, str]], *, at: datetime
    ) -> frozenset[tuple[str, str]]:
        """`record` for each (source, event id), in the order given (callers sort them, the
        portal's lock order), in one go: the pairs that were new. A pair given twice is new
        at most once."""
        ...


class Counters(Protocol):
    def next_value(self, series: str) -> int:
        """The next number of `series`, gap-free: a rolled-back transaction gives its number back."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository. Nothing is stored until `commit()`.

    After a batch method (`..._many`) raised, roll back: a failed batch ends the transaction
    (it skips the savepoint a single write takes, for speed)."""

    organisations: OrganisationRepository
    users: UserRepository
    cases: CaseRepository
    history: CaseHistory
    attachments: AttachmentRepository
    audit: AuditLog
    outbox: Outbox
    processed_events: ProcessedEvents
    counters: Counters
    contracts: ContractRepository
    case_fees: CaseFeeRepository
    time_entries: TimeEntryRepository
    invoices: InvoiceRepository
    credit_notes: CreditNoteRepository
    credentials: CredentialRepository
    sessions: SessionRepository
    one_time_tokens: OneTimeTokenRepository
    sign_in_attempts: SignInAttemptLog
    idempotency_keys: IdempotencyKeys

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work. `read_only=True` promises not to commit (commit() raises): the
        storage may then serve it from a consistent snapshot without taking the write lock, so
        queries do not queue behind writers or behind each other (SQLite)."""
        ...


# --- collaborators outside the database ---------------------------------------------------------


@frozen(kw_only=True)
class StoredObject:
    key: str
    size: int
    content_type: str
    checksum: str
    """SHA-256 of the content, lowercase hex."""


@frozen(kw_only=True)
class UploadTicket:
    """What a browser needs to upload one file straight to the store."""

    url: str
    fields: dict[str, str]
    key: str
    expires_at: datetime
    max_size: int


class FileStore(Protocol):
    def upload_ticket(
        self, key: str, *, content_type: str, max_size: int, expires_in: timedelta
    ) -> UploadTicket:
        """Permission for one browser upload of 1..`max_size` bytes of `content_type` to `key`,
        valid for `expires_in` (shortened to the store's maximum link life, never lengthened)."""
        ...

    def describe(self, key: str) -> StoredObject | None: ...
    def write(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        """Store content the server made itself (a rendered invoice) under `key`, replacing
        anything there; the checksum is computed while writing."""
        ...

    def download_link(
        self, key: str, *, display_name: str, content_type: str, expires_in: timedelta
    ) -> str:
        """A link that downloads `key` as an attachment named `display_name` (RFC 6266), served
        as `content_type`, valid for `expires_in` (shortened to the store's maximum)."""
        ...

    def read(self, key: str) -> Iterator[bytes]:
        """The content in chunks, so that large files never sit whole in memory."""
        ...

    def read_head(self, key: str, size: int) -> bytes:
        """The first `size` bytes (fewer if the object is shorter), for the content check."""
        ...

    def move(self, key: str, new_key: str) -> StoredObject:
        """Move an object to `new_key` (replacing anything there); NotFound if `key` is absent."""
        ...

    def usage(self, prefix: str) -> int:
        """Bytes stored under keys starting with `prefix`: what a quota is measured on."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key`; removing an absent key is not an error."""
        ...


@frozen(kw_only=True)
class ExternalCase:
    """A case as the case system of record holds it."""

    external_id: str
    number: str
    subject: str
    description: str
    status: CaseStatus
    priority: Priority
    account_id: str | None
    last_modified: datetime


class CaseSystem(Protocol):
    """The system of record for cases: Salesforce, or the portal's own database."""

    def create_case(self, case: Case, *, account_id: str | None) -> ExternalCase:
        """Create `case` there; idempotent on `case.id`, so a retry never makes a second one."""
        ...

    def update_status(self, external_id: str, status: CaseStatus) -> None: ...
    def add_public_comment(self, external_id: str, body: str) -> None: ...
    def fetch(self, external_id: str) -> ExternalCase | None: ...
    def changed_since(self, since: datetime) -> Iterator[ExternalCase]: ...


class AuthenticationFailed(Exception):
    """A token or password did not prove who is asking. One message for every reason."""


class IdentityProvider(Protocol):
    def verify(self, token: str) -> Principal:
        """The principal a sign-in token proves; AuthenticationFailed otherwise."""
        ...

    def invite(self, user: User) -> str | None:
        """Give `user` a way to sign in (an invitation e-mail, a Cognito user). Returns the
        invitation link when the provider makes one itself (local sign-in), for a CLI to show;
        None when the provider delivers its own (Cognito)."""
        ...

    def disable(self, user_id: str) -> None:
        """Stop `user_id` from signing in and end their sessions."""
        ...


@frozen(kw_only=True)
class Notification:
    to: str
    subject: str
    body: str
    kind: str
    dedupe_key: str
    """The same key is never sent twice (outbox deliveries are at least once)."""


class Notifier(Protocol):
    def send(self, notification: Notification) -> None: ...


@frozen(kw_only=True)
class LiveUpdate:
    """A small message pushed to every open page of an organisation's users."""

    organisation_id: str
    kind: str
    case_id: str | None
    data: dict[str, str]
    staff_only: bool = False
    """For the firm's eyes only (an internal note, an assignment): never sent to a client."""
    billing_only: bool = False
    """About invoices and payments: only for those who see the organisation's invoices."""


class Publisher(Protocol):
    def publish(self, update: LiveUpdate) -> None:
        """Hand the update to the live channel; must not block on slow subscribers."""
        ...
