"""SQL repositories: one per port, each mapping rows to the frozen domain objects by hand."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from attrs import evolve
from sqlalchemy import (
    Connection,
    CursorResult,
    Executable,
    Integer,
    Row,
    Select,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql import tables as t
from adapters.sql.bulk import insert_from_json, update_from_json
from adapters.sql.errors import guarded, lost_connection_reported
from adapters.sql.serialisation import EventCodec
from adapters.sql.types import UtcDateTime
from portal_core.audit import AuditRecord, SealedAuditRecord, seal_next
from portal_core.cases.model import (
    Attachment,
    Case,
    CaseEvent,
    CaseStatus,
    Priority,
)
from portal_core.errors import ConcurrencyConflict, Conflict, NotFound
from portal_core.organisations.model import Organisation, Role, User
from portal_core.ports import CaseQuery, OutboxMessage, Page


class Database:
    """The connection of one unit of work; turns a lost connection into StorageUnavailable."""

    def __init__(self, connection: Connection, codec: EventCodec) -> None:
        self.connection = connection
        self.codec = codec

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name

    def execute(
        self, statement: Executable, parameters: Sequence[Mapping[str, Any]] | None = None
    ) -> CursorResult[Any]:
        with lost_connection_reported():
            return self.connection.execute(statement, parameters)

    def insert_or_ignore(self, table: Table, values: Mapping[str, Any]) -> bool:
        """Insert unless the row's key exists already: True if inserted.

        `ON CONFLICT DO NOTHING` on both databases: a duplicate neither raises nor aborts the
        transaction, and under concurrency the second writer waits for the first to finish.
        """
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = dialect_insert(table).values(**values).on_conflict_do_nothing()
        key = next(iter(table.primary_key.columns))
        return self.execute(statement.returning(key)).first() is not None

    def insert_many(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows that all have the same keys, in their order: on PostgreSQL in one
        statement that takes them as one JSON document (see `adapters.sql.bulk`), on SQLite
        through executemany."""
        if not rows:
            return
        if self.dialect == "postgresql":
            self.execute(insert_from_json(table, tuple(rows[0])), [{"rows": rows}])
        else:
            self.execute(_plain_insert(table), rows)

    def record_processed(
        self, events: Sequence[tuple[str, str]], *, at: datetime
    ) -> list[Row[Any]]:
        """Remember (source, event id) pairs, in the order given, in one statement: the pairs
        that were not remembered yet. A pair given twice is new once."""
        if not events:
            return []
        parameters = record_processed_parameters(self.dialect, events, at=at)
        return list(self.execute(RECORD_PROCESSED[self.dialect], parameters))


@functools.cache
def _plain_insert(table: Table) -> Executable:
    return insert(table)


def record_processed_parameters(
    dialect: str, events: Sequence[tuple[str, str]], *, at: datetime
) -> list[dict[str, Any]]:
    """What `RECORD_PROCESSED[dialect]` is executed with for these (source, event id) pairs
    (public for the benchmark's raw rate): two arrays on PostgreSQL, a list of rows on SQLite."""
    if dialect == "postgresql":
        sources, event_ids = zip(*events, strict=True)
        return [{"sources": list(sources), "event_ids": list(event_ids), "recorded_at": at}]
    return [
        {"source": source, "event_id": event_id, "recorded_at": at} for source, event_id in events
    ]


def _record_processed_statements() -> dict[str, Executable]:
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING` the key, per dialect, built once.

    PostgreSQL takes the keys as two array parameters unnested into rows: the statement's text
    is the same for 1 key or 100, so the server prepares and plans it once and the driver
    parses it once. (The multi-row VALUES form grows with the batch: 100 rows make a text that
    neither psycopg's query cache nor the server's prepared statements keep, so every message
    paid for parsing and planning it again.) SQLite executes the plain statement with the
    list of rows, which SQLAlchemy sends as one multi-row INSERT.
    """
    pe = t.processed_events
    keys = (
        func.unnest(
            bindparam("sources", type_=postgresql.ARRAY(Text)),
            bindparam("event_ids", type_=postgresql.ARRAY(Text)),
        )
        .table_valued("source", "event_id")
        .render_derived()
    )
    from_arrays = select(
        keys.c.source, keys.c.event_id, bindparam("recorded_at", type_=UtcDateTime())
    )
    return {
        "postgresql": postgresql.insert(pe)
        .from_select(["source", "event_id", "recorded_at"], from_arrays)
        .on_conflict_do_nothing()
        .returning(pe.c.source, pe.c.event_id),
        "sqlite": sqlite.insert(pe).on_conflict_do_nothing().returning(pe.c.source, pe.c.event_id),
    }


RECORD_PROCESSED = _record_processed_statements()
"""The statement `record_processed` runs, per dialect (public for the benchmark's raw rate)."""


# --- organisations and users --------------------------------------------------------------------


def _organisation(row: Row[Any]) -> Organisation:
    return Organisation(
        id=row.id,
        name=row.name,
        external_account_id=row.external_account_id,
        created_at=row.created_at,
        active=row.active,
    )


def _organisation_values(organisation: Organisation) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "name": organisation.name,
        "external_account_id": organisation.external_account_id,
        "created_at": organisation.created_at,
        "active": organisation.active,
    }


_ORGANISATION_DUPLICATES = {
    frozenset({"organisations.id"}): "That organisation exists already.",
    frozenset(
        {"organisations.external_account_id"}
    ): "Another organisation is linked to that account already.",
}


class SqlOrganisationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _one(self, *conditions: Any) -> Organisation | None:
        row = self._db.execute(select(t.organisations).where(*conditions)).first()
        return _organisation(row) if row else None

    def get(self, organisation_id: str) -> Organisation | None:
        return self._one(t.organisations.c.id == organisation_id)

    def by_external_account(self, account_id: str) -> Organisation | None:
        return self._one(t.organisations.c.external_account_id == account_id)

    def add(self, organisation: Organisation) -> None:
        with guarded(self._db.connection, duplicates=_ORGANISATION_DUPLICATES):
            self._db.execute(insert(t.organisations).values(_organisation_values(organisation)))

    def update(self, organisation: Organisation) -> None:
        with guarded(self._db.connection, duplicates=_ORGANISATION_DUPLICATES):
            result = self._db.execute(
                update(t.organisations)
                .where(t.organisations.c.id == organisation.id)
                .values(_organisation_values(organisation))
            )
        if result.rowcount == 0:
            raise NotFound("No such organisation.")

    def list(self) -> Sequence[Organisation]:
        rows = self._db.execute(select(t.organisations)).all()
        # Sorted here, not in SQL: lower() differs between SQLite (ASCII only) and PostgreSQL.
        return sorted((_organisation(r) for r in rows), key=lambda o: (o.name.lower(), o.id))


_USER_DUPLICATES = {
    frozenset({"users.email_key"}): "A user with that e-mail address exists already.",
    frozenset({"users.id"}): "That user exists already.",
}


def email_key(email: str) -> str:
    return email.casefold()


class SqlUserRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _load(self, statement: Select[Any]) -> list[User]:
        rows = self._db.execute(statement).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        roles: dict[str, set[Role]] = {user_id: set() for user_id in ids}
        for user_id_role in self._db.execute(
            select(t.user_roles.c.user_id, t.user_roles.c.role).where(
                t.user_roles.c.user_id.in_(ids)
            )
        ):
            roles[user_id_role.user_id].add(Role(user_id_role.role))
        return [
            User(
                id=row.id,
                email=row.email,
                name=row.name,
                organisation_id=row.organisation_id,
                roles=frozenset(roles[row.id]),
                active=row.active,
                created_at=row.created_at,
            )
            for row in rows
        ]

    def get(self, user_id: str) -> User | None:
        found = self._load(select(t.users).where(t.users.c.id == user_id))
        return found[0] if found else None

    def by_email(self, email: str) -> User | None:
        found = self._load(select(t.users).where(t.users.c.email_key == email_key(email)))
        return found[0] if found else None

    @staticmethod
    def _values(user: User) -> dict[str, Any]:
        return {
            "id": user.id,
            "email": user.email,
            "email_key": email_key(user.email),
            "name": user.name,
            "organisation_id": user.organisation_id,
            "active": user.active,
            "created_at": user.created_at,
        }

    def _write_roles(self, user: User) -> None:
        self._db.execute(t.user_roles.delete().where(t.user_roles.c.user_id == user.id))
        self._db.execute(
            insert(t.user_roles),
            [{"user_id": user.id, "role": role.value} for role in sorted(user.roles)],
        )

    def add(self, user: User) -> None:
        with guarded(
            self._db.connection,
            duplicates=_USER_DUPLICATES,
            missing="The user's organisation does not exist.",
        ):
            self._db.execute(insert(t.users).values(self._values(user)))
            self._write_roles(user)

    def update(self, user: User) -> None:
        with guarded(
            self._db.connection,
            duplicates=_USER_DUPLICATES,
            missing="The user's organisation does not exist.",
        ):
            result = self._db.execute(
                update(t.users).where(t.users.c.id == user.id).values(self._values(user))
            )
            if result.rowcount == 1:
                self._write_roles(user)
        if result.rowcount == 0:
            raise NotFound("No such user.")

    @staticmethod
    def _by_name(users: list[User]) -> list[User]:
        return sorted(users, key=lambda u: (u.name.lower(), u.id))

    def for_organisation(self, organisation_id: str) -> Sequence[User]:
        return self._by_name(
            self._load(select(t.users).where(t.users.c.organisation_id == organisation_id))
        )

    def with_role(self, role: Role) -> Sequence[User]:
        holders = select(t.user_roles.c.user_id).where(t.user_roles.c.role == role.value)
        return self._by_name(self._load(select(t.users).where(t.users.c.id.in_(holders))))


# --- cases, their history and attachments -------------------------------------------------------


_PRIORITIES = {p.value: p for p in Priority}
_STATUSES = {s.value: s for s in CaseStatus}


def _case(row: Row[Any]) -> Case:
    """A case from a row of `_CASE_COLUMNS`, read by position: a list page builds 25 of these
    per request, and positional unpacking costs a fraction of 17 lookups by name."""
    (
        case_id,
        organisation_id,
        reference,
        subject,
        description,
        priority,
        status,
        submitted_by,
        assignee_id,
        external_id,
        external_number,
        created_at,
        updated_at,
        resolved_at,
        closed_at,
        external_modified_at,
        version,
    ) = row  # type: ignore[misc]  # Row[Any] does not know its length
    return Case(
        id=case_id,
        organisation_id=organisation_id,
        reference=reference,
        subject=subject,
        description=description,
        priority=_PRIORITIES[priority],
        status=_STATUSES[status],
        submitted_by=submitted_by,
        assignee_id=assignee_id,
        external_id=external_id,
        external_number=external_number,
        created_at=created_at,
        updated_at=updated_at,
        resolved_at=resolved_at,
        closed_at=closed_at,
        external_modified_at=external_modified_at,
        version=version,
    )


_CASE_COLUMNS = tuple(c for c in t.cases.c if not c.name.endswith("_folded"))
"""What `_case` reads, in this order: the casefolded copies are for matching only."""


def case_values(case: Case) -> dict[str, Any]:
    """The row of `case` (public for the benchmark's bulk seeding)."""
    return {
        "id": case.id,
        "organisation_id": case.organisation_id,
        "reference": case.reference,
        "subject": case.subject,
        "description": case.description,
        "priority": case.priority.value,
        "status": case.status.value,
        "submitted_by": case.submitted_by,
        "assignee_id": case.assignee_id,
        "external_id": case.external_id,
        "external_number": case.external_number,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "external_modified_at": case.external_modified_at,
        "version": case.version,
        "subject_folded": case.subject.casefold(),
        "reference_folded": case.reference.casefold(),
        "external_number_folded": (
            case.external_number.casefold() if case.external_number is not None else None
        ),
    }


_CASE_DUPLICATES = {
    frozenset({"cases.reference"}): "A case with that reference exists already.",
    frozenset({"cases.id"}): "That case exists already.",
    frozenset({"cases.external_id"}): "Another case is linked to that external record already.",
}


def case_search_statements(
    query: CaseQuery, *, scope: str | None
) -> tuple[Select[Any], Select[Any]]:
    """The page and the count of a case search with its values bound (public so that the
    benchmark can EXPLAIN them; the repository runs the cached shape with parameters)."""
    page, count, parameters = _case_search(query, scope=scope)
    return page.params(parameters), count.params(parameters)


def _like_escaped(term: str) -> str:
    return term.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _case_search(
    query: CaseQuery, *, scope: str | None
) -> tuple[Select[Any], Select[Any], dict[str, Any]]:
    organisation_id = scope if scope is not None else query.organisation_id
    parameters: dict[str, Any] = {"limit": query.page_size, "offset": query.offset}
    if organisation_id is not None:
        parameters["organisation_id"] = organisation_id
    if query.statuses:
        parameters["statuses"] = sorted(s.value for s in query.statuses)
    if query.priority is not None:
        parameters["priority"] = query.priority.value
    if query.assignee_id is not None:
        parameters["assignee_id"] = query.assignee_id
    if query.text:
        parameters["term"] = _like_escaped(query.text.casefold())
    page, count = _case_search_shape(
        organisation_id is not None,
        bool(query.statuses),
        query.priority is not None,
        query.assignee_id is not None,
        bool(query.text),
    )
    return page, count, parameters


@functools.cache
def _case_search_shape(
    by_organisation: bool, by_status: bool, by_priority: bool, by_assignee: bool, by_text: bool
) -> tuple[Select[Any], Select[Any]]:
    """One statement pair per combination of filters, built once: SQLAlchemy then finds its
    compiled form by the statement's memoised cache key instead of rebuilding both per call."""
    c = t.cases.c
    conditions: list[Any] = []
    if by_organisation:
        conditions.append(c.organisation_id == bindparam("organisation_id"))
    if by_status:
        conditions.append(c.status.in_(bindparam("statuses", expanding=True)))
    if by_priority:
        conditions.append(c.priority == bindparam("priority"))
    if by_assignee:
        conditions.append(c.assignee_id == bindparam("assignee_id"))
    if by_text:
        term = bindparam("term", type_=Text())
        conditions.append(
            or_(
                c.subject_folded.contains(term, escape="/"),
                c.reference_folded.contains(term, escape="/"),
                c.external_number_folded.contains(term, escape="/"),
            )
        )
    where = and_(true(), *conditions)
    page = (
        select(*_CASE_COLUMNS)
        .where(where)
        .order_by(c.updated_at.desc(), c.id.desc())
        .limit(bindparam("limit", type_=Integer()))
        .offset(bindparam("offset", type_=Integer()))
    )
    count = select(func.count()).select_from(t.cases).where(where)
    return page, count


# Built once: the case detail runs these three on every view (see `_case_search_shape`).
_CASE_BY_ID = select(*_CASE_COLUMNS).where(t.cases.c.id == bindparam("case_id"))
_HISTORY_OF_CASE = (
    select(t.case_events.c.kind, t.case_events.c.payload)
    .where(t.case_events.c.case_id == bindparam("case_id"))
    .order_by(t.case_events.c.sequence)
)
_ATTACHMENTS_OF_CASE = (
    select(t.attachments)
    .where(t.attachments.c.case_id == bindparam("case_id"))
    .order_by(t.attachments.c.uploaded_at, t.attachments.c.id)
)


class SqlCaseRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _one(self, *conditions: Any) -> Case | None:
        row = self._db.execute(select(*_CASE_COLUMNS).where(*conditions)).first()
        return _case(row) if row else None

    def get(self, case_id: str) -> Case | None:
        row = self._db.execute(_CASE_BY_ID, [{"case_id": case_id}]).first()
        return _case(row) if row else None

    def by_external_id(self, external_id: str) -> Case | None:
        return self._one(t.cases.c.external_id == external_id)

    def by_reference(self, reference: str) -> Case | None:
        return self._one(t.cases.c.reference == reference)

    def add(self, case: Case) -> None:
        with guarded(
            self._db.connection,
            duplicates=_CASE_DUPLICATES,
            missing="The case's organisation does not exist.",
        ):
            self._db.execute(insert(t.cases).values(case_values(case)))

    def update(self, case: Case, *, expected_version: int) -> None:
        with guarded(self._db.connection, duplicates=_CASE_DUPLICATES):
            result = self._db.execute(
                update(t.cases)
                .where(t.cases.c.id == case.id, t.cases.c.version == expected_version)
                .values(case_values(case))
            )
        if result.rowcount == 1:
            return
        if self.get(case.id) is None:
            raise NotFound("No such case.")
        raise ConcurrencyConflict(
            f"Case {case.reference} was changed by someone else; reload it and try again."
        )

    def by_external_ids(self, external_ids: Collection[str]) -> Mapping[str, Case]:
        if not external_ids:
            return {}
        statement = _CASES_BY_EXTERNAL_IDS[self._db.dialect == "postgresql"]
        rows = self._db.execute(statement, [{"external_ids": sorted(external_ids)}])
        return {case.external_id: case for case in map(_case, rows) if case.external_id}

    def update_many(self, changes: Sequence[tuple[Case, int]]) -> None:
        if not changes:
            return
        postgres = self._db.dialect == "postgresql"
        rows = []
        for case, expected_version in changes:
            row = case_values(case)
            if postgres:
                row["expected_version"] = expected_version
            else:
                row["b_id"] = row.pop("id")  # the key is matched, never set
                row["b_expected_version"] = expected_version
            rows.append(row)
        with guarded(self._db.connection, duplicates=_CASE_DUPLICATES, savepoint=False):
            if postgres:
                # One statement locks the rows in the order of its join, not by id; that cannot
                # deadlock, because every writer of cases holds the audit head's lock by now.
                statement = update_from_json(
                    t.cases,
                    tuple(name for name in rows[0] if name != "expected_version"),
                    key="id",
                    version="version",
                    expected="expected_version",
                )
                result = self._db.execute(statement, [{"rows": rows}])
            else:
                result = self._db.execute(_VERSIONED_CASE_UPDATE, rows)
        if result.rowcount == len(changes):
            return
        # Some case had moved on: name it as `update` would (the transaction is rolled back).
        for case, expected_version in changes:
            stored = self.get(case.id)
            if stored is None:
                raise NotFound("No such case.")
            if stored.version not in (expected_version, case.version):
                raise ConcurrencyConflict(
                    f"Case {case.reference} was changed by someone else; reload it and try again."
                )
        raise ConcurrencyConflict("A case was changed by someone else; reload it and try again.")

    def search(self, query: CaseQuery, *, scope: str | None) -> Page[Case]:
        page, count, parameters = _case_search(query, scope=scope)
        items = tuple(_case(row) for row in self._db.execute(page, [parameters]))
        if query.page == 1 and len(items) < query.page_size:
            total = len(items)  # the whole result is on this page: no need to count
        else:
            total = self._db.execute(count, [parameters]).scalar_one()
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)


_CASES_BY_EXTERNAL_IDS = {
    # PostgreSQL: one array parameter, so the statement text (and its plan) is the same
    # whatever the number of ids; SQLite: an IN list.
    True: select(*_CASE_COLUMNS).where(
        t.cases.c.external_id == any_(bindparam("external_ids", type_=postgresql.ARRAY(Text)))
    ),
    False: select(*_CASE_COLUMNS).where(
        t.cases.c.external_id.in_(bindparam("external_ids", expanding=True))
    ),
}
_VERSIONED_CASE_UPDATE = update(t.cases).where(
    t.cases.c.id == bindparam("b_id"), t.cases.c.version == bindparam("b_expected_version")
)
"""SQLite: executed with a list of rows through executemany, each row versioned. PostgreSQL
takes the same rows as one JSON document (`update_from_json`)."""
_CASE_EVENT_DUPLICATES = {frozenset({"case_events.event_id"}): "That event is recorded already."}


class SqlCaseHistory:
    def __init__(self, db: Database) -> None:
        self._db = db

    def append_many(self, events: Sequence[CaseEvent]) -> None:
        if not events:
            return
        rows = []
        for event in events:
            kind, document = self._db.codec.dump(event)
            rows.append(
                {
                    "event_id": event.event_id,
                    "case_id": event.case_id,
                    "organisation_id": event.organisation_id,
                    "kind": kind,
                    "occurred_at": event.occurred_at,
                    "actor_id": event.actor_id,
                    "payload": document,
                }
            )
        with guarded(
            self._db.connection,
            duplicates=_CASE_EVENT_DUPLICATES,
            missing="The event's case does not exist.",
            savepoint=False,
        ):
            self._db.insert_many(t.case_events, rows)

    def append(self, event: CaseEvent) -> None:
        kind, document = self._db.codec.dump(event)
        with guarded(
            self._db.connection,
            duplicates={frozenset({"case_events.event_id"}): "That event is recorded already."},
            missing="The event's case does not exist.",
        ):
            self._db.execute(
                insert(t.case_events).values(
                    event_id=event.event_id,
                    case_id=event.case_id,
                    organisation_id=event.organisation_id,
                    kind=kind,
                    occurred_at=event.occurred_at,
                    actor_id=event.actor_id,
                    payload=document,
                )
            )

    def _events(
        self, statement: Select[Any], parameters: Mapping[str, Any] | None = None
    ) -> list[CaseEvent]:
        events: list[CaseEvent] = []
        for row in self._db.execute(statement, [parameters] if parameters else None):
            event = self._db.codec.load(row.kind, row.payload)
            events.append(event)  # type: ignore[arg-type]  # only case events are stored here
        return events

    def for_case(self, case_id: str) -> Sequence[CaseEvent]:
        return self._events(_HISTORY_OF_CASE, {"case_id": case_id})

    def recent(self, *, scope: str | None, limit: int) -> Sequence[CaseEvent]:
        e = t.case_events.c
        statement = select(e.kind, e.payload).order_by(e.sequence.desc()).limit(limit)
        if scope is not None:
            statement = statement.where(e.organisation_id == scope)
        return self._events(statement)


def _attachment(row: Row[Any]) -> Attachment:
    return Attachment(
        id=row.id,
        case_id=row.case_id,
        organisation_id=row.organisation_id,
        display_name=row.display_name,
        size=row.size,
        content_type=row.content_type,
        checksum=row.checksum,
        storage_key=row.storage_key,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
    )


class SqlAttachmentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, attachment_id: str) -> Attachment | None:
        row = self._db.execute(
            select(t.attachments).where(t.attachments.c.id == attachment_id)
        ).first()
        return _attachment(row) if row else None

    def add(self, attachment: Attachment) -> None:
        with guarded(
            self._db.connection,
            duplicates={frozenset({"attachments.id"}): "That attachment exists already."},
            missing="The attachment's case or organisation does not exist.",
        ):
            self._db.execute(
                insert(t.attachments).values(
                    id=attachment.id,
                    case_id=attachment.case_id,
                    organisation_id=attachment.organisation_id,
                    display_name=attachment.display_name,
                    size=attachment.size,
                    content_type=attachment.content_type,
                    checksum=attachment.checksum,
                    storage_key=attachment.storage_key,
                    uploaded_by=attachment.uploaded_by,
                    uploaded_at=attachment.uploaded_at,
                )
            )

    def for_case(self, case_id: str) -> Sequence[Attachment]:
        rows = self._db.execute(_ATTACHMENTS_OF_CASE, [{"case_id": case_id}])
        return [_attachment(row) for row in rows]


# --- audit, outbox, idempotency and counters ----------------------------------------------------


def _sealed(row: Row[Any]) -> SealedAuditRecord:
    return SealedAuditRecord(
        sequence=row.sequence,
        record=AuditRecord(
            id=row.id,
            at=row.at,
            actor_id=row.actor_id,
            organisation_id=row.organisation_id,
            action=row.action,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            details=dict(row.details),
        ),
        previous_hash=row.previous_hash,
        hash=row.hash,
    )


class SqlAuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _locked_head(self) -> tuple[int, str]:
        """The chain head's (sequence, hash), its row locked until this transaction ends.

        Only the head row is read under the lock: PostgreSQL re-reads a row it waited for, but
        not rows joined to it, so a joined read could seal after a stale predecessor.
        """
        row = self._db.execute(_LOCK_AUDIT_HEAD).first()
        if row is None:  # the very first entry: create the head, then lock it
            self._db.insert_or_ignore(t.audit_head, {"id": 1, "sequence": 0, "hash": ""})
            row = self._db.execute(_LOCK_AUDIT_HEAD).one()
        return row.sequence, row.hash

    def append(self, record: AuditRecord) -> SealedAuditRecord:
        # Stored times come back in UTC; sealing the UTC form keeps the hash verifiable.
        record = evolve(record, at=record.at.astimezone(UTC), details=dict(record.details))
        last_sequence, last_hash = self._locked_head()
        sealed = seal_next(record, last_sequence=last_sequence, last_hash=last_hash)
        added = self._db.insert_or_ignore(
            t.audit_entries,
            {
                "sequence": sealed.sequence,
                "id": record.id,
                "at": record.at,
                "actor_id": record.actor_id,
                "organisation_id": record.organisation_id,
                "action": record.action,
                "subject_type": record.subject_type,
                "subject_id": record.subject_id,
                "details": dict(record.details),
                "previous_hash": sealed.previous_hash,
                "hash": sealed.hash,
            },
        )
        if not added:
            raise Conflict("That audit entry exists already.")
        self._db.execute(
            update(t.audit_head)
            .where(t.audit_head.c.id == 1)
            .values(sequence=sealed.sequence, hash=sealed.hash)
        )
        return sealed

    def append_many(self, records: Sequence[AuditRecord]) -> Sequence[SealedAuditRecord]:
        if not records:
            return []
        last_sequence, last_hash = self._locked_head()
        sealed_records: list[SealedAuditRecord] = []
        rows: list[dict[str, Any]] = []
        for given in records:
            # Stored times come back in UTC; sealing the UTC form keeps the hash verifiable.
            record = evolve(given, at=given.at.astimezone(UTC), details=dict(given.details))
            sealed = seal_next(record, last_sequence=last_sequence, last_hash=last_hash)
            last_sequence, last_hash = sealed.sequence, sealed.hash
            sealed_records.append(sealed)
            rows.append(_audit_row(sealed))
        with guarded(
            self._db.connection,
            duplicates={
                frozenset({"audit_entries.id"}): "That audit entry exists already.",
                frozenset({"audit_entries.sequence"}): "That audit entry exists already.",
            },
            savepoint=False,
        ):
            self._db.insert_many(t.audit_entries, rows)
        self._db.execute(_MOVE_AUDIT_HEAD, [{"b_sequence": last_sequence, "b_hash": last_hash}])
        return sealed_records

    def entries(self, *, after_sequence: int = 0) -> Iterator[SealedAuditRecord]:
        a = t.audit_entries.c
        batch_size = 500
        while True:
            rows = self._db.execute(
                select(t.audit_entries)
                .where(a.sequence > after_sequence)
                .order_by(a.sequence)
                .limit(batch_size)
            ).all()
            yield from (_sealed(row) for row in rows)
            if len(rows) < batch_size:
                return
            after_sequence = rows[-1].sequence


_LOCK_AUDIT_HEAD = (
    select(t.audit_head.c.sequence, t.audit_head.c.hash)
    .where(t.audit_head.c.id == 1)
    .with_for_update()
)
_MOVE_AUDIT_HEAD = (
    update(t.audit_head)
    .where(t.audit_head.c.id == 1)
    .values(sequence=bindparam("b_sequence"), hash=bindparam("b_hash"))
)


def _audit_row(sealed: SealedAuditRecord) -> dict[str, Any]:
    record = sealed.record
    return {
        "sequence": sealed.sequence,
        "id": record.id,
        "at": record.at,
        "actor_id": record.actor_id,
        "organisation_id": record.organisation_id,
        "action": record.action,
        "subject_type": record.subject_type,
        "subject_id": record.subject_id,
        "details": dict(record.details),
        "previous_hash": sealed.previous_hash,
        "hash": sealed.hash,
    }


class SqlOutbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_many(self, messages: Sequence[OutboxMessage]) -> None:
        rows = []
        for message in messages:
            kind, document = self._db.codec.dump(message.event)
            rows.append(
                {
                    "id": message.id,
                    "kind": kind,
                    "payload": document,
                    "created_at": message.created_at,
                    "attempts": message.attempts,
                    "available_at": message.available_at,
                    "last_error": message.last_error,
                    "delivered_at": message.delivered_at,
                }
            )
        if not rows:
            return
        with guarded(
            self._db.connection,
            duplicates={frozenset({"outbox_messages.id"}): "That outbox message exists already."},
            savepoint=False,
        ):
            self._db.insert_many(t.outbox_messages, rows)

    def _message(self, row: Row[Any]) -> OutboxMessage:
        return OutboxMessage(
            id=row.id,
            event=self._db.codec.load(row.kind, row.payload),
            created_at=row.created_at,
            attempts=row.attempts,
            available_at=row.available_at,
            last_error=row.last_error,
            delivered_at=row.delivered_at,
        )

    def add(self, message: OutboxMessage) -> None:
        kind, document = self._db.codec.dump(message.event)
        added = self._db.insert_or_ignore(
            t.outbox_messages,
            {
                "id": message.id,
                "kind": kind,
                "payload": document,
                "created_at": message.created_at,
                "attempts": message.attempts,
                "available_at": message.available_at,
                "last_error": message.last_error,
                "delivered_at": message.delivered_at,
            },
        )
        if not added:
            raise Conflict("That outbox message exists already.")

    def claim(self, *, limit: int, now: datetime, lease: timedelta) -> Sequence[OutboxMessage]:
        o = t.outbox_messages.c
        # SKIP LOCKED lets concurrent workers on PostgreSQL take disjoint batches; SQLite has
        # one writer at a time (the unit of work begins IMMEDIATE), so there it is not needed.
        due = (
            select(t.outbox_messages)
            .where(o.delivered_at.is_(None), o.available_at <= now)
            .order_by(o.available_at, o.created_at, o.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = [
            evolve(message, available_at=now + lease, attempts=message.attempts + 1)
            for message in (self._message(row) for row in self._db.execute(due))
        ]
        if claimed:
            self._db.execute(
                update(t.outbox_messages)
                .where(o.id.in_([m.id for m in claimed]))
                .values(available_at=now + lease, attempts=o.attempts + 1)
            )
        return claimed

    def _change(self, message_id: str, **values: Any) -> None:
        result = self._db.execute(
            update(t.outbox_messages).where(t.outbox_messages.c.id == message_id).values(**values)
        )
        if result.rowcount == 0:
            raise NotFound("No such outbox message.")

    def mark_delivered(self, message_id: str, *, at: datetime) -> None:
        self._change(message_id, delivered_at=at)

    def mark_failed(self, message_id: str, *, error: str, retry_at: datetime) -> None:
        self._change(message_id, last_error=error, available_at=retry_at)

    def pending_count(self) -> int:
        o = t.outbox_messages.c
        pending: int = self._db.execute(
            select(func.count()).select_from(t.outbox_messages).where(o.delivered_at.is_(None))
        ).scalar_one()
        return pending


class SqlProcessedEvents:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, source: str, event_id: str, *, at: datetime) -> bool:
        return self._db.insert_or_ignore(
            t.processed_events, {"source": source, "event_id": event_id, "recorded_at": at}
        )

    def record_many(
        self, events: Iterable[tuple[str, str]], *, at: datetime
    ) -> frozenset[tuple[str, str]]:
        inserted = self._db.record_processed(list(events), at=at)
        return frozenset((row.source, row.event_id) for row in inserted)


class SqlCounters:
    def __init__(self, db: Database) -> None:
        self._db = db

    def next_value(self, series: str) -> int:
        # The UPDATE locks the series' row until commit: concurrent issuers queue behind it, and
        # a rollback gives the number back, so numbers are gap-free (a sequence would leak them).
        self._db.insert_or_ignore(t.counters, {"series": series, "value": 0})
        value: int = self._db.execute(
            update(t.counters)
            .where(t.counters.c.series == series)
            .values(value=t.counters.c.value + 1)
            .returning(t.counters.c.value)
        ).scalar_one()
        return value
