"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from adapters.sql.billing import (
    SqlCaseFeeRepository,
    SqlContractRepository,
    SqlCreditNoteRepository,
    SqlInvoiceRepository,
    SqlTimeEntryRepository,
)
from adapters.sql.errors import StorageUnavailable, lost_connection_reported
from adapters.sql.idempotency import SqlIdempotencyKeys
from adapters.sql.identity import (
    SqlCredentialRepository,
    SqlOneTimeTokenRepository,
    SqlSessionRepository,
    SqlSignInAttemptLog,
)
from adapters.sql.repositories import (
    Database,
    SqlAttachmentRepository,
    SqlAuditLog,
    SqlCaseHistory,
    SqlCaseRepository,
    SqlCounters,
    SqlOrganisationRepository,
    SqlOutbox,
    SqlProcessedEvents,
    SqlUserRepository,
)
from adapters.sql.serialisation import EventCodec
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
from portal_core.ports import (
    AttachmentRepository,
    AuditLog,
    CaseHistory,
    CaseRepository,
    Counters,
    OrganisationRepository,
    Outbox,
    ProcessedEvents,
    UserRepository,
)

READ_ONLY = "portal_read_only"
"""Execution option of connections that only read: on SQLite they do not take the write lock."""


class SqlUnitOfWork:
    """One transaction over every repository; nothing is stored until `commit()`.

    The transaction begins with the first statement (on SQLite as `BEGIN IMMEDIATE`, see
    `SqlStorage`), so a unit of work that has committed holds no lock while it finishes up.
    """

    # Typed as the ports: the UnitOfWork Protocol's attributes are settable, so mypy wants
    # them declared with exactly its types (and then checks each SQL repository against them).
    organisations: OrganisationRepository
    users: UserRepository
    cases: CaseRepository
    history: CaseHistory
    attachments: AttachmentRepository
    audit: AuditLog
    outbox: Outbox
    processed_events: ProcessedEvents
    counters: Counters
    credentials: CredentialRepository
    sessions: SessionRepository
    one_time_tokens: OneTimeTokenRepository
    sign_in_attempts: SignInAttemptLog
    contracts: ContractRepository
    case_fees: CaseFeeRepository
    time_entries: TimeEntryRepository
    invoices: InvoiceRepository
    credit_notes: CreditNoteRepository
    idempotency_keys: IdempotencyKeys

    def __init__(self, engine: Engine, codec: EventCodec, *, read_only: bool = False) -> None:
        self._engine = engine
        self._codec = codec
        self._read_only = read_only
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        try:
            connection = self._engine.connect()
        except DBAPIError as error:
            raise StorageUnavailable("The database cannot be reached.") from error
        if self._read_only:
            # SQLite then begins DEFERRED: a WAL snapshot, no write lock (see SqlStorage).
            connection.execution_options(**{READ_ONLY: True})
        self._connection = connection
        db = Database(connection, self._codec)
        self.organisations = SqlOrganisationRepository(db)
        self.users = SqlUserRepository(db)
        self.cases = SqlCaseRepository(db)
        self.history = SqlCaseHistory(db)
        self.attachments = SqlAttachmentRepository(db)
        self.audit = SqlAuditLog(db)
        self.outbox = SqlOutbox(db)
        self.processed_events = SqlProcessedEvents(db)
        self.counters = SqlCounters(db)
        self.credentials = SqlCredentialRepository(db)
        self.sessions = SqlSessionRepository(db)
        self.one_time_tokens = SqlOneTimeTokenRepository(db)
        self.sign_in_attempts = SqlSignInAttemptLog(db)
        self.contracts = SqlContractRepository(db)
        self.case_fees = SqlCaseFeeRepository(db)
        self.time_entries = SqlTimeEntryRepository(db)
        self.invoices = SqlInvoiceRepository(db)
        self.credit_notes = SqlCreditNoteRepository(db)
        self.idempotency_keys = SqlIdempotencyKeys(db)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction() and not connection.invalidated:
                connection.rollback()
        finally:
            connection.close()

    def _live(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("Use the unit of work inside `with`.")
        return self._connection

    def commit(self) -> None:
        connection = self._live()
        if self._read_only:
            raise RuntimeError("A read-only unit of work cannot commit.")
        with lost_connection_reported():
            connection.commit()

    def rollback(self) -> None:
        connection = self._live()
        if connection.invalidated:
            return  # the server already threw the transaction away
        connection.rollback()
