"""Domain events: facts in the past tense, each with its own id.

Events are recorded by the unit of work in the same transaction as the change (they become
outbox rows) and dispatched to in-process handlers only after that transaction commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, TypedDict

from attrs import frozen


@frozen(kw_only=True)
class DomainEvent:
    """Base of every event. `kind` names the event on the wire and in the outbox."""

    kind: ClassVar[str] = "event"

    event_id: str
    occurred_at: datetime
    organisation_id: str | None
    actor_id: str


class EventHeader(TypedDict):
    """The fields every event starts with, ready to splat into an event's constructor."""

    event_id: str
    occurred_at: datetime
    organisation_id: str | None
    actor_id: str
