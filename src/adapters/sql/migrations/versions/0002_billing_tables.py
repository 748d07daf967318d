"""Billing: contracts, case fees, time entries, invoices with their cases and payments, credit
notes. Amounts are exact decimals beside their currency.

Revision ID: 0002_billing_tables
Revises: 0001_core_tables
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from adapters.sql.types import ExactDecimal, UtcDateTime

revision: str = "0002_billing_tables"
down_revision: str | Sequence[str] | None = "0001_core_tables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Identifier = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
Document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Sequence64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _organisation_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organisation_id"], ["organisations.id"], name=f"fk_{table}_organisation_id_organisations"
    )


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("sequence", Sequence64, nullable=False, autoincrement=True),
        sa.Column("id", Identifier, nullable=False),
        sa.Column("organisation_id", Identifier, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("document", Document, nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_contracts"),
        sa.UniqueConstraint("id", name="uq_contracts_id"),
        _organisation_key("contracts"),
    )
    op.create_index(
        "ix_contracts_organisation_id_created_at_sequence",
        "contracts",
        ["organisation_id", "created_at", "sequence"],
    )

    op.create_table(
        "case_fees",
        sa.Column("case_id", Identifier, nullable=False),
        sa.Column("organisation_id", Identifier, nullable=False),
        sa.Column("case_type", sa.Text(), nullable=True),
        sa.Column("price", ExactDecimal(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_fees"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_fees_case_id_cases"),
        _organisation_key("case_fees"),
    )

    op.create_table(
        "time_entries",
        sa.Column("id", Identifier, nullable=False),
        sa.Column("organisation_id", Identifier, nullable=False),
        sa.Column("case_id", Identifier, nullable=False),
        sa.Column("staff_id", Identifier, nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("invoice_id", Identifier, nullable=True),
        sa.Column("logged_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_time_entries"),
        sa.CheckConstraint("minutes > 0", name="ck_time_entries_minutes_positive"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_time_entries_case_id_cases"),
        _organisation_key("time_entries"),
    )
    op.create_index(
        "ix_time_entries_case_id_work_date_logged_at_id",
        "time_entries",
        ["case_id", "work_date", "logged_at", "id"],
    )
    op.create_index("ix_time_entries_invoice_id", "time_entries", ["invoice_id"])
    op.create_index(
        "ix_time_entries_unbilled",
        "time_entries",
        ["organisation_id", "case_id", "work_date"],
        postgresql_where=sa.text("invoice_id IS NULL"),
        sqlite_where=sa.text("invoice_id IS NULL"),
    )

    op.create_table(
        "invoices",
        sa.Column("id", Identifier, nullable=False),
        sa.Column("organisation_id", Identifier, nullable=False),
        sa.Column("contract_id", Identifier, nullable=False),
        sa.Column("billing_key", sa.Text(), nullable=False),
        sa.Column("case_id", Identifier, nullable=True),
        sa.Column("period", sa.Text(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("net", ExactDecimal(), nullable=False),
        sa.Column("tax", ExactDecimal(), nullable=False),
        sa.Column("gross", ExactDecimal(), nullable=False),
        sa.Column("amount_paid", ExactDecimal(), nullable=False),
        sa.Column("amount_credited", ExactDecimal(), nullable=False),
        sa.Column("calculation", Document, nullable=False),
        sa.Column("number", Identifier, nullable=True),
        sa.Column("issued_at", UtcDateTime(), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("document_key", sa.Text(), nullable=True),
        sa.Column("document_sha256", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_invoices"),
        sa.UniqueConstraint(
            "organisation_id", "billing_key", name="uq_invoices_organisation_id_billing_key"
        ),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name="fk_invoices_contract_id_contracts"
        ),
        _organisation_key("invoices"),
    )
    op.create_index(
        "ix_invoices_organisation_recent",
        "invoices",
        ["organisation_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_invoices_recent", "invoices", [sa.text("created_at DESC"), sa.text("id DESC")]
    )

    op.create_table(
        "invoice_cases",
        sa.Column("invoice_id", Identifier, nullable=False),
        sa.Column("case_id", Identifier, nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "case_id", name="pk_invoice_cases"),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name="fk_invoice_cases_invoice_id_invoices",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_invoice_cases_case_id", "invoice_cases", ["case_id"])

    op.create_table(
        "invoice_payments",
        sa.Column("invoice_id", Identifier, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", Identifier, nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "position", name="pk_invoice_payments"),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name="fk_invoice_payments_invoice_id_invoices",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "credit_notes",
        sa.Column("id", Identifier, nullable=False),
        sa.Column("number", Identifier, nullable=False),
        sa.Column("invoice_id", Identifier, nullable=False),
        sa.Column("invoice_number", Identifier, nullable=False),
        sa.Column("organisation_id", Identifier, nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("net", ExactDecimal(), nullable=False),
        sa.Column("tax", ExactDecimal(), nullable=False),
        sa.Column("gross", ExactDecimal(), nullable=False),
        sa.Column("lines", Document, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("document_key", sa.Text(), nullable=True),
        sa.Column("document_sha256", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_credit_notes"),
        sa.UniqueConstraint("number", name="uq_credit_notes_number"),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name="fk_credit_notes_invoice_id_invoices"
        ),
        _organisation_key("credit_notes"),
    )
    op.create_index(
        "ix_credit_notes_invoice_id_issued_at_number",
        "credit_notes",
        ["invoice_id", "issued_at", "number"],
    )
    op.create_index(
        "ix_credit_notes_organisation_id_issued_at_number",
        "credit_notes",
        ["organisation_id", "issued_at", "number"],
    )


def downgrade() -> None:
    for table in (
        "credit_notes",
        "invoice_payments",
        "invoice_cases",
        "invoices",
        "time_entries",
        "case_fees",
        "contracts",
    ):
        op.drop_table(table)
