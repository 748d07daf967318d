"""In-memory fakes of the collaborators outside the database: case system, identity,
notifications and live updates. Each keeps what it was given, for tests to inspect."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

from attrs import evolve

from portal_core.cases.model import Case, CaseStatus
from portal_core.errors import NotFound
from portal_core.organisations.model import Principal, User
from portal_core.ports import (
    AuthenticationFailed,
    Clock,
    ExternalCase,
    LiveUpdate,
    Notification,
)


class InMemoryCaseSystem:
    """A case system of record that numbers cases `00001000` upwards, like Salesforce."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._cases: dict[str, ExternalCase] = {}
        self._by_portal_id: dict[str, str] = {}
        self.comments: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def create_case(self, case: Case, *, account_id: str | None) -> ExternalCase:
        with self._lock:
            existing = self._by_portal_id.get(case.id)
            if existing is not None:
                return self._cases[existing]
            number = 1000 + len(self._cases)
            created = ExternalCase(
                external_id=f"500{number:015d}",
                number=f"{number:08d}",
                subject=case.subject,
                description=case.description,
                status=case.status,
                priority=case.priority,
                account_id=account_id,
                last_modified=self._clock.now(),
            )
            self._cases[created.external_id] = created
            self._by_portal_id[case.id] = created.external_id
            return created

    def update_status(self, external_id: str, status: CaseStatus) -> None:
        with self._lock:
            found = self._require(external_id)
            self._cases[external_id] = evolve(found, status=status, last_modified=self._clock.now())

    def add_public_comment(self, external_id: str, body: str) -> None:
        with self._lock:
            self._require(external_id)
            self.comments.setdefault(external_id, []).append(body)

    def fetch(self, external_id: str) -> ExternalCase | None:
        return self._cases.get(external_id)

    def changed_since(self, since: datetime) -> Iterator[ExternalCase]:
        changed = sorted(
            (c for c in self._cases.values() if c.last_modified >= since),
            key=lambda c: (c.last_modified, c.external_id),
        )
        return iter(changed)

    def _require(self, external_id: str) -> ExternalCase:
        found = self._cases.get(external_id)
        if found is None:
            raise NotFound(f"No case {external_id} in the case system.")
        return found


class InMemoryIdentityProvider:
    """Tokens are issued by `issue_token` (tests); `verify` accepts only those, while active."""

    def __init__(self) -> None:
        self._tokens: dict[str, Principal] = {}
        self.invited: list[User] = []
        self.disabled: set[str] = set()

    def issue_token(self, user: User) -> str:
        token = f"token-{user.id}-{len(self._tokens)}"
        self._tokens[token] = user.as_principal()
        return token

    def verify(self, token: str) -> Principal:
        principal = self._tokens.get(token)
        if principal is None or principal.user_id in self.disabled:
            raise AuthenticationFailed("The sign-in could not be verified.")
        return principal

    def invite(self, user: User) -> None:
        self.invited.append(user)
        self.disabled.discard(user.id)

    def disable(self, user_id: str) -> None:
        self.disabled.add(user_id)


class InMemoryNotifier:
    """Keeps sent notifications; a repeated `dedupe_key` is not sent twice."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self._keys: set[str] = set()

    def send(self, notification: Notification) -> None:
        if notification.dedupe_key in self._keys:
            return
        self._keys.add(notification.dedupe_key)
        self.sent.append(notification)


class InMemoryPublisher:
    def __init__(self) -> None:
        self.published: list[LiveUpdate] = []

    def publish(self, update: LiveUpdate) -> None:
        self.published.append(update)
