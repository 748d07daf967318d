"""Local sign-in: credentials, sessions, one-time links and sign-in attempts.

Revision ID: 0003_sign_in
Revises: 0002_billing_tables
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision: str = "0003_sign_in"
down_revision: str | Sequence[str] | None = "0002_billing_tables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were when this revision was written.
Identifier = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _user_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("user_id", Identifier, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("password_changed_at", UtcDateTime(), nullable=True),
        sa.Column("totp_secret", sa.Text(), nullable=True),
        sa.Column("totp_pending_secret", sa.Text(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="pk_credentials"),
        _user_key("credentials"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_digest", Identifier, nullable=False),
        sa.Column("user_id", Identifier, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("idle_timeout", sa.Interval(), nullable=False),
        sa.Column("absolute_lifetime", sa.Interval(), nullable=False),
        sa.Column("second_factor_done", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("token_digest", name="pk_sessions"),
        _user_key("sessions"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "one_time_tokens",
        sa.Column("token_digest", Identifier, nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("user_id", Identifier, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_digest", name="pk_one_time_tokens"),
        _user_key("one_time_tokens"),
    )
    op.create_index("ix_one_time_tokens_user_id_purpose", "one_time_tokens", ["user_id", "purpose"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", Identifier, nullable=False),
        sa.Column("account_key", sa.Text(), nullable=False),
        sa.Column("client_address", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_attempts"),
    )
    op.create_index("ix_sign_in_attempts_account_key_at", "sign_in_attempts", ["account_key", "at"])
    op.create_index(
        "ix_sign_in_attempts_client_address_at", "sign_in_attempts", ["client_address", "at"]
    )
    op.create_index("ix_sign_in_attempts_at", "sign_in_attempts", ["at"])


def downgrade() -> None:
    for table in ("sign_in_attempts", "one_time_tokens", "sessions", "credentials"):
        op.drop_table(table)
