"""SQL storage for local sign-in: credentials, sessions, one-time links, sign-in attempts.

The tables are on the shared `metadata` (so the migration check sees them); the revision that
builds them is `migrations/versions/0002_sign_in.py`. Sessions and links are stored under the
SHA-256 of their token only. A user's rows go with the user (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Interval,
    Row,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql.errors import guarded
from adapters.sql.repositories import Database
from adapters.sql.tables import Identifier, metadata
from adapters.sql.types import UtcDateTime
from portal_core.identity.model import (
    AttemptOutcome,
    Credential,
    OneTimeToken,
    Session,
    SignInAttempt,
    TokenPurpose,
)

credentials = Table(
    "credentials",
    metadata,
    Column("user_id", Identifier, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("password_hash", Text, nullable=True),
    Column("password_changed_at", UtcDateTime, nullable=True),
    Column("totp_secret", Text, nullable=True),
    Column("totp_pending_secret", Text, nullable=True),
    Column("totp_last_step", BigInteger, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_digest", Identifier, primary_key=True),
    Column("user_id", Identifier, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("idle_timeout", Interval, nullable=False),
    Column("absolute_lifetime", Interval, nullable=False),
    Column("second_factor_done", Boolean, nullable=False),
    Index(None, "user_id"),
)

one_time_tokens = Table(
    "one_time_tokens",
    metadata,
    Column("token_digest", Identifier, primary_key=True),
    Column("purpose", Text, nullable=False),
    Column("user_id", Identifier, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Index(None, "user_id", "purpose"),
)

sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("id", Identifier, primary_key=True),
    Column("account_key", Text, nullable=False),
    Column("client_address", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("outcome", Text, nullable=False),
    Index(None, "account_key", "at"),
    Index(None, "client_address", "at"),
    Index(None, "at"),
)

_SESSION_DUPLICATES = {frozenset({"sessions.token_digest"}): "That session exists already."}
_TOKEN_DUPLICATES = {frozenset({"one_time_tokens.token_digest"}): "That link exists already."}
_ATTEMPT_DUPLICATES = {frozenset({"sign_in_attempts.id"}): "That attempt is recorded already."}


# --- credentials ---------------------------------------------------------------------------------


def _credential(row: Row[Any]) -> Credential:
    return Credential(
        user_id=row.user_id,
        password_hash=row.password_hash,
        password_changed_at=row.password_changed_at,
        totp_secret=row.totp_secret,
        totp_pending_secret=row.totp_pending_secret,
        totp_last_step=row.totp_last_step,
    )


class SqlCredentialRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, user_id: str) -> Credential | None:
        row = self._db.execute(select(credentials).where(credentials.c.user_id == user_id)).first()
        return _credential(row) if row else None

    def put(self, credential: Credential) -> None:
        values = {
            "user_id": credential.user_id,
            "password_hash": credential.password_hash,
            "password_changed_at": credential.password_changed_at,
            "totp_secret": credential.totp_secret,
            "totp_pending_secret": credential.totp_pending_secret,
            "totp_last_step": credential.totp_last_step,
        }
        dialect_insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        statement = dialect_insert(credentials).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[credentials.c.user_id],
            set_={name: value for name, value in values.items() if name != "user_id"},
        )
        with guarded(
            self._db.connection,
            duplicates={frozenset({"credentials.user_id"}): "That credential exists already."},
            missing="No such user.",
        ):
            self._db.execute(statement)


# --- sessions ------------------------------------------------------------------------------------


def _session(row: Row[Any]) -> Session:
    return Session(
        token_digest=row.token_digest,
        user_id=row.user_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        idle_timeout=row.idle_timeout,
        absolute_lifetime=row.absolute_lifetime,
        second_factor_done=row.second_factor_done,
    )


class SqlSessionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, token_digest: str) -> Session | None:
        row = self._db.execute(
            select(sessions).where(sessions.c.token_digest == token_digest)
        ).first()
        return _session(row) if row else None

    def add(self, session: Session) -> None:
        with guarded(self._db.connection, duplicates=_SESSION_DUPLICATES, missing="No such user."):
            self._db.execute(
                insert(sessions).values(
                    token_digest=session.token_digest,
                    user_id=session.user_id,
                    created_at=session.created_at,
                    last_seen_at=session.last_seen_at,
                    idle_timeout=session.idle_timeout,
                    absolute_lifetime=session.absolute_lifetime,
                    second_factor_done=session.second_factor_done,
                )
            )

    def update(self, session: Session) -> None:
        self._db.execute(
            update(sessions)
            .where(sessions.c.token_digest == session.token_digest)
            .values(
                last_seen_at=session.last_seen_at, second_factor_done=session.second_factor_done
            )
        )

    def remove(self, token_digest: str) -> bool:
        result = self._db.execute(delete(sessions).where(sessions.c.token_digest == token_digest))
        return result.rowcount > 0

    def for_user(self, user_id: str) -> Sequence[Session]:
        rows = self._db.execute(
            select(sessions)
            .where(sessions.c.user_id == user_id)
            .order_by(sessions.c.created_at, sessions.c.token_digest)
        ).all()
        return [_session(row) for row in rows]

    def remove_for_user(self, user_id: str) -> int:
        result = self._db.execute(delete(sessions).where(sessions.c.user_id == user_id))
        return result.rowcount


# --- one-time links ------------------------------------------------------------------------------


def _token(row: Row[Any]) -> OneTimeToken:
    return OneTimeToken(
        token_digest=row.token_digest,
        purpose=TokenPurpose(row.purpose),
        user_id=row.user_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class SqlOneTimeTokenRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, token_digest: str) -> OneTimeToken | None:
        row = self._db.execute(
            select(one_time_tokens).where(one_time_tokens.c.token_digest == token_digest)
        ).first()
        return _token(row) if row else None

    def add(self, token: OneTimeToken) -> None:
        with guarded(self._db.connection, duplicates=_TOKEN_DUPLICATES, missing="No such user."):
            self._db.execute(
                insert(one_time_tokens).values(
                    token_digest=token.token_digest,
                    purpose=token.purpose.value,
                    user_id=token.user_id,
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                    used_at=token.used_at,
                )
            )

    def use(self, token_digest: str, *, at: datetime) -> bool:
        # The condition on used_at makes this a compare-and-set: of two concurrent uses the
        # second waits for the first to commit, re-reads the row, and changes nothing.
        result = self._db.execute(
            update(one_time_tokens)
            .where(
                one_time_tokens.c.token_digest == token_digest,
                one_time_tokens.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
        return result.rowcount == 1

    def unused_for(self, user_id: str, purpose: TokenPurpose) -> Sequence[OneTimeToken]:
        rows = self._db.execute(
            select(one_time_tokens)
            .where(
                one_time_tokens.c.user_id == user_id,
                one_time_tokens.c.purpose == purpose.value,
                one_time_tokens.c.used_at.is_(None),
            )
            .order_by(one_time_tokens.c.created_at.desc(), one_time_tokens.c.token_digest.desc())
        ).all()
        return [_token(row) for row in rows]

    def discard_unused(self, user_id: str, purpose: TokenPurpose) -> int:
        result = self._db.execute(
            delete(one_time_tokens).where(
                one_time_tokens.c.user_id == user_id,
                one_time_tokens.c.purpose == purpose.value,
                one_time_tokens.c.used_at.is_(None),
            )
        )
        return result.rowcount


# --- sign-in attempts ----------------------------------------------------------------------------


class SqlSignInAttemptLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def hold(self, account_key: str) -> None:
        if self._db.dialect == "postgresql":
            # Released at commit or rollback. SQLite needs nothing: its transactions begin
            # IMMEDIATE, so writers are serialised already.
            self._db.execute(
                select(func.pg_advisory_xact_lock(func.hashtextextended(account_key, 0)))
            )

    def record(self, attempt: SignInAttempt) -> None:
        with guarded(self._db.connection, duplicates=_ATTEMPT_DUPLICATES):
            self._db.execute(
                insert(sign_in_attempts).values(
                    id=attempt.id,
                    account_key=attempt.account_key,
                    client_address=attempt.client_address,
                    at=attempt.at,
                    outcome=attempt.outcome.value,
                )
            )

    def mark_succeeded(self, attempt_id: str) -> None:
        self._db.execute(
            update(sign_in_attempts)
            .where(sign_in_attempts.c.id == attempt_id)
            .values(outcome=AttemptOutcome.SUCCEEDED.value)
        )

    def _failures(self, *conditions: Any) -> Sequence[datetime]:
        rows = self._db.execute(
            select(sign_in_attempts.c.at)
            .where(sign_in_attempts.c.outcome == AttemptOutcome.FAILED.value, *conditions)
            .order_by(sign_in_attempts.c.at)
        ).all()
        return [row.at for row in rows]

    def failures_for_account(self, account_key: str, *, since: datetime) -> Sequence[datetime]:
        return self._failures(
            sign_in_attempts.c.account_key == account_key, sign_in_attempts.c.at > since
        )

    def failures_from_address(self, client_address: str, *, since: datetime) -> Sequence[datetime]:
        return self._failures(
            sign_in_attempts.c.client_address == client_address, sign_in_attempts.c.at > since
        )

    def forget_before(self, moment: datetime) -> int:
        result = self._db.execute(delete(sign_in_attempts).where(sign_in_attempts.c.at < moment))
        return result.rowcount
