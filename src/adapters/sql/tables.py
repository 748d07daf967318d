"""The tables, as SQLAlchemy Core: the adapter maps rows to domain objects by hand.

This metadata is what the code reads and writes; the migrations in `migrations/versions/` are
what builds the database, and a contract test checks that the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from adapters.sql.types import ExactDecimal, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Identifiers compare byte-wise on both databases ("C" collation on PostgreSQL, SQLite's BINARY),
# so that ties broken by id come out in the same order everywhere, and as in Python.
Identifier = Text().with_variant(Text(collation="C"), "postgresql")
Document = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements an INTEGER PRIMARY KEY (the rowid).
Sequence64 = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(naming_convention=NAMING_CONVENTION)

organisations = Table(
    "organisations",
    metadata,
    Column("id", Identifier, primary_key=True),
    Column("name", Text, nullable=False),
    Column("external_account_id", Identifier, nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Identifier, primary_key=True),
    Column("email", Text, nullable=False),
    Column("email_key", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("organisation_id", Identifier, ForeignKey("organisations.id"), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "organisation_id"),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", Identifier, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "role"),
    Index(None, "role"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Identifier, primary_key=True),
    Column("organisation_id", Identifier, ForeignKey("organisations.id"), nullable=False),
    Column("reference", Identifier, nullable=False, unique=True),
    Column("subject", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("submitted_by", Identifier, nullable=False),
    Column("assignee_id", Identifier, nullable=True),
    Column("external_id", Identifier, nullable=True, unique=True),
    Column("external_number", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("external_modified_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    # Case-folded copies for the text search: SQLite's lower() only folds ASCII, so folding
    # happens in Python, once, when the case is written.
    Column("subject_folded", Text, nullable=False),
    Column("reference_folded", Text, nullable=False),
    Column("external_number_folded", Text, nullable=True),
)
# A client's case list, newest activity first (the portal's most frequent query). The status
# rides along so that the open-only list and its count are answered from the index alone.
Index(
    "ix_cases_organisation_recent",
    cases.c.organisation_id,
    cases.c.updated_at.desc(),
    cases.c.id.desc(),
    cases.c.status,
)
# The staff queue by status, newest first.
Index("ix_cases_status_recent", cases.c.status, cases.c.updated_at.desc(), cases.c.id.desc())
# A staff member's own cases.
Index("ix_cases_assignee_recent", cases.c.assignee_id, cases.c.updated_at.desc(), cases.c.id.desc())
# Every case, newest first (the unfiltered staff list).
Index("ix_cases_recent", cases.c.updated_at.desc(), cases.c.id.desc())

case_events = Table(
    "case_events",
    metadata,
    Column("sequence", Sequence64, primary_key=True, autoincrement=True),
    Column("event_id", Identifier, nullable=False, unique=True),
    Column("case_id", Identifier, ForeignKey("cases.id"), nullable=False),
    Column("organisation_id", Identifier, nullable=True),
    Column("kind", Text, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("actor_id", Identifier, nullable=False),
    Column("payload", Document, nullable=False),
    Index(None, "case_id", "sequence"),
    Index(None, "organisation_id", "sequence"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Identifier, primary_key=True),
    Column("case_id", Identifier, ForeignKey("cases.id"), nullable=False),
    Column("organisation_id", Identifier, ForeignKey("organisations.id"), nullable=False),
    Column("display_name", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("checksum", Text, nullable=False),
    Column("storage_key", Text, nullable=False),
    Column("uploaded_by", Identifier, nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    CheckConstraint("size > 0", name="size_positive"),
    Index(None, "case_id", "uploaded_at", "id"),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("id", Identifier, nullable=False, unique=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor_id", Identifier, nullable=False),
    Column("organisation_id", Identifier, nullable=True),
    Column("action", Text, nullable=False),
    Column("subject_type", Text, nullable=False),
    Column("subject_id", Identifier, nullable=False),
    Column("details", Document, nullable=False),
    Column("previous_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Index(None, "subject_type", "subject_id"),
)

# The end of the audit chain: one row, locked by every append so that two transactions never
# seal after the same predecessor.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sequence", BigInteger, nullable=False),
    Column("hash", Text, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", Identifier, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("payload", Document, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("available_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
)
# Only undelivered messages are ever claimed, so only they are indexed.
Index(
    "ix_outbox_messages_due",
    outbox_messages.c.available_at,
    outbox_messages.c.created_at,
    outbox_messages.c.id,
    postgresql_where=outbox_messages.c.delivered_at.is_(None),
    sqlite_where=outbox_messages.c.delivered_at.is_(None),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("source", Text, nullable=False),
    Column("event_id", Identifier, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("source", "event_id"),
)

counters = Table(
    "counters",
    metadata,
    Column("series", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)


# --- billing --------------------------------------------------------------------------------
# Amounts are exact (`numeric` on PostgreSQL) beside their currency. A contract's terms and an
# invoice's computed lines are immutable values read and written whole, so they are documents;
# what the portal filters, sorts or adds up on is in columns.

contracts = Table(
    "contracts",
    metadata,
    # The order contracts were added in: of two made at the same time, the later one is in force.
    Column("sequence", Sequence64, primary_key=True, autoincrement=True),
    Column("id", Identifier, nullable=False, unique=True),
    Column("organisation_id", Identifier, ForeignKey("organisations.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("document", Document, nullable=False),
    Index(None, "organisation_id", "created_at", "sequence"),
)

case_fees = Table(
    "case_fees",
    metadata,
    Column("case_id", Identifier, ForeignKey("cases.id"), primary_key=True),
    Column("organisation_id", Identifier, ForeignKey("organisations.id"), nullable=False),
    Column("case_type", Text, nullable=True),
    Column("price", ExactDecimal, nullable=True),
)

time_entries = Table(
    "time_entries",
    metadata,
    Column("id", Identifier, primary_key=True),
    Column("organisation_id", Identifier, ForeignKey("organisations.id"), nullable=False),
    Column("case_id", Identifier, ForeignKey("cases.id"), nullable=False),
    Column("staff_id", Identifier, nullable=False),
    Column("role", Text, nullable=False),
    Column("work_date", Date, nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("invoice_id", Identifier, nullable=True),
    Column("logged_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("minutes > 0", name="minutes_positive"),
    Index(None, "case_id", "work_date", "logged_at", "id"),
    Index(None, "invoice_id"),
)
# Unbilled entries by case: what every billing run reads. Billed entries are never in it.
Index(
    "ix_time_entries_unbilled",
    time_entries.c.organisation_id,
    time_entries.c.case_id,
    time_entries.c.work_date,
    postgresql_where=time_entries.c.invoice_id.is_(None),
    sqlite_where=time_entries.c.invoice_id.is_(None),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Identifier, primary_key=True),
    Column("organisation_id", Identifier, ForeignKey("organisations.id"), nullable=False),
    Column("contract_id", Identifier, ForeignKey("contracts.id"), nullable=False),
    Column("billing_key", Text, nullable=False),
    Column("case_id", Identifier, nullable=True),
    Column("period", Text, nullable=True),
    Column("currency", Text, nullable=False),
    Column("net", ExactDecimal, nullable=False),
    Column("tax", ExactDecimal, nullable=False),
    Column("gross", ExactDecimal, nullable=False),
    Column("amount_paid", ExactDecimal, nullable=False),
    Column("amount_credited", ExactDecimal, nullable=False),
    Column("calculation", Document, nullable=False),
    Column("number", Identifier, nullable=True, unique=True),
    Column("issued_at", UtcDateTime, nullable=True),
    Column("issue_date", Date, nullable=True),
    Column("due_date", Date, nullable=True),
    Column("document_key", Text, nullable=True),
    Column("document_sha256", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("organisation_id", "billing_key"),
)
Index(
    "ix_invoices_organisation_recent",
    invoices.c.organisation_id,
    invoices.c.created_at.desc(),
    invoices.c.id.desc(),
)
Index("ix_invoices_recent", invoices.c.created_at.desc(), invoices.c.id.desc())

# Every case an invoice charges or shows, so that a case finds its monthly invoices too.
invoice_cases = Table(
    "invoice_cases",
    metadata,
    Column("invoice_id", Identifier, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False),
    Column("case_id", Identifier, nullable=False),
    PrimaryKeyConstraint("invoice_id", "case_id"),
    Index(None, "case_id"),
)

invoice_payments = Table(
    "invoice_payments",
    metadata,
    Column("invoice_id", Identifier, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("id", Identifier, nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    Column("currency", Text, nullable=False),
    Column("received_on", Date, nullable=False),
    Column("reference", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("invoice_id", "position"),
)

credit_notes = Table(
    "credit_notes",
    metadata,
    Column("id", Identifier, primary_key=True),
    Column("number", Identifier, nullable=False, unique=True),
    Column("invoice_id", Identifier, ForeignKey("invoices.id"), nullable=False),
    Column("invoice_number", Identifier, nullable=False),
    Column("organisation_id", Identifier, ForeignKey("organisations.id"), nullable=False),
    Column("currency", Text, nullable=False),
    Column("net", ExactDecimal, nullable=False),
    Column("tax", ExactDecimal, nullable=False),
    Column("gross", ExactDecimal, nullable=False),
    Column("lines", Document, nullable=False),
    Column("reason", Text, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("document_key", Text, nullable=True),
    Column("document_sha256", Text, nullable=True),
    Index(None, "invoice_id", "issued_at", "number"),
    Index(None, "organisation_id", "issued_at", "number"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner", Identifier, nullable=False),
    Column("route", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_body", LargeBinary, nullable=True),
    Column("response_content_type", Text, nullable=True),
    PrimaryKeyConstraint("owner", "route", "key"),
    Index(None, "expires_at"),
)

notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("user_id", Identifier, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "kind"),
)
"""One row per kind of e-mail a person turned off; no row: they get it."""
