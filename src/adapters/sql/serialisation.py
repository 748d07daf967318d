"""Domain values to and from JSON documents: events keyed by their class's `kind`, contract
terms tagged by their class, amounts as strings and times as ISO text.

The domain stays plain attrs classes; how they look in a column is decided here, at the edge.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import cattrs
from cattrs.strategies import configure_tagged_union

from portal_core.billing.contract import Terms
from portal_core.events import DomainEvent


def make_converter() -> cattrs.Converter:
    """The one converter for every document column: events, contracts, invoice calculations."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_structure_hook(datetime, lambda value, _: datetime.fromisoformat(value))
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_structure_hook(date, lambda value, _: date.fromisoformat(value))
    # Amounts travel as strings ("540.00"), never as JSON numbers (floats to most readers).
    converter.register_unstructure_hook(Decimal, str)
    converter.register_unstructure_hook(enum.Enum, lambda member: member.value)
    converter.register_structure_hook(Decimal, lambda value, _: Decimal(value))
    # A contract's terms are one of several classes: the document names which.
    configure_tagged_union(Terms, converter, tag_name="type")
    return converter


def _event_classes() -> dict[str, type[DomainEvent] | None]:
    """Every loaded DomainEvent subclass by kind; None marks a kind two classes claim."""
    found: dict[str, type[DomainEvent] | None] = {}
    pending: list[type[DomainEvent]] = [DomainEvent]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            claimed = found.get(subclass.kind, subclass)
            found[subclass.kind] = subclass if claimed is subclass else None
    return found


class EventCodec:
    """Stores an event as (kind, document) and rebuilds it from them."""

    def __init__(self) -> None:
        self.converter = make_converter()
        self._classes = _event_classes()

    def dump(self, event: DomainEvent) -> tuple[str, dict[str, Any]]:
        document: dict[str, Any] = self.converter.unstructure(event)
        return event.kind, document

    def load(self, kind: str, document: dict[str, Any]) -> DomainEvent:
        if kind not in self._classes:
            # An event module imported after this codec was made (billing, sync, ...).
            self._classes = _event_classes()
        event_class = self._classes.get(kind)
        if event_class is None:
            raise LookupError(f"No single event class has the kind {kind!r}.")
        event: DomainEvent = self.converter.structure(document, event_class)
        return event
