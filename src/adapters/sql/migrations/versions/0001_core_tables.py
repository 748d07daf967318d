"""The core tables: organisations, users, cases, their history and files, audit, outbox.

Revision ID: 0001_core_tables
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from adapters.sql.types import UtcDateTime

revision: str = "0001_core_tables"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were when this revision was written.
Identifier = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
Document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Sequence64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_POSTGRES_APPEND_ONLY = """
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The audit trail is append-only.';
END $$;
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
"""
_SQLITE_APPEND_ONLY = (
    """CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'The audit trail is append-only.'); END""",
    """CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'The audit trail is append-only.'); END""",
)


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", Identifier, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("external_account_id", Identifier, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
        sa.UniqueConstraint("external_account_id", name="uq_organisations_external_account_id"),
    )
    op.create_table(
        "users",
        sa.Column("id", Identifier, nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("email_key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("organisation_id", Identifier, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email_key", name="uq_users_email_key"),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_users_organisation_id_organisations"
        ),
    )
    op.create_index("ix_users_organisation_id", "users", ["organisation_id"])
    op.create_table(
        "user_roles",
        sa.Column("user_id", Identifier, nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "role", name="pk_user_roles"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_roles_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_user_roles_role", "user_roles", ["role"])

    op.create_table(
        "cases",
        sa.Column("id", Identifier, nullable=False),
        sa.Column("organisation_id", Identifier, nullable=False),
        sa.Column("reference", Identifier, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("submitted_by", Identifier, nullable=False),
        sa.Column("assignee_id", Identifier, nullable=True),
        sa.Column("external_id", Identifier, nullable=True),
        sa.Column("external_number", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("external_modified_at", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject_folded", sa.Text(), nullable=False),
        sa.Column("reference_folded", sa.Text(), nullable=False),
        sa.Column("external_number_folded", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("reference", name="uq_cases_reference"),
        sa.UniqueConstraint("external_id", name="uq_cases_external_id"),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_cases_organisation_id_organisations"
        ),
    )
    op.create_index(
        "ix_cases_organisation_recent",
        "cases",
        ["organisation_id", sa.text("updated_at DESC"), sa.text("id DESC"), "status"],
    )
    op.create_index(
        "ix_cases_status_recent",
        "cases",
        ["status", sa.text("updated_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_cases_assignee_recent",
        "cases",
        ["assignee_id", sa.text("updated_at DESC"), sa.text("id DESC")],
    )
    op.create_index("ix_cases_recent", "cases", [sa.text("updated_at DESC"), sa.text("id DESC")])

    op.create_table(
        "case_events",
        sa.Column("sequence", Sequence64, nullable=False, autoincrement=True),
        sa.Column("event_id", Identifier, nullable=False),
        sa.Column("case_id", Identifier, nullable=False),
        sa.Column("organisation_id", Identifier, nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("actor_id", Identifier, nullable=False),
        sa.Column("payload", Document, nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_case_events"),
        sa.UniqueConstraint("event_id", name="uq_case_events_event_id"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_events_case_id_cases"),
    )
    op.create_index("ix_case_events_case_id_sequence", "case_events", ["case_id", "sequence"])
    op.create_index(
        "ix_case_events_organisation_id_sequence", "case_events", ["organisation_id", "sequence"]
    )

    op.create_table(
        "attachments",
        sa.Column("id", Identifier, nullable=False),
        sa.Column("case_id", Identifier, nullable=False),
        sa.Column("organisation_id", Identifier, nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("checksum", sa.Text(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("uploaded_by", Identifier, nullable=False),
        sa.Column("uploaded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
        sa.CheckConstraint("size > 0", name="ck_attachments_size_positive"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_attachments_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_attachments_organisation_id_organisations",
        ),
    )
    op.create_index(
        "ix_attachments_case_id_uploaded_at_id", "attachments", ["case_id", "uploaded_at", "id"]
    )

    op.create_table(
        "audit_entries",
        sa.Column("sequence", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("id", Identifier, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor_id", Identifier, nullable=False),
        sa.Column("organisation_id", Identifier, nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=False),
        sa.Column("subject_id", Identifier, nullable=False),
        sa.Column("details", Document, nullable=False),
        sa.Column("previous_hash", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_audit_entries"),
        sa.UniqueConstraint("id", name="uq_audit_entries_id"),
    )
    op.create_index(
        "ix_audit_entries_subject_type_subject_id", "audit_entries", ["subject_type", "subject_id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_APPEND_ONLY)
    else:
        for statement in _SQLITE_APPEND_ONLY:
            op.execute(statement)
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )

    op.create_table(
        "outbox_messages",
        sa.Column("id", Identifier, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("payload", Document, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
    )
    op.create_index(
        "ix_outbox_messages_due",
        "outbox_messages",
        ["available_at", "created_at", "id"],
        postgresql_where=sa.text("delivered_at IS NULL"),
        sqlite_where=sa.text("delivered_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("event_id", Identifier, nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "event_id", name="pk_processed_events"),
    )
    op.create_table(
        "counters",
        sa.Column("series", sa.Text(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series", name="pk_counters"),
    )


def downgrade() -> None:
    for table in (
        "counters",
        "processed_events",
        "outbox_messages",
        "audit_head",
        "audit_entries",
        "attachments",
        "case_events",
        "cases",
        "user_roles",
        "users",
        "organisations",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_entries_append_only()")
