"""The outbox relay: carries committed side effects out, at least once, with back-off.

`record_change` puts a row in the outbox in the same transaction as the change. The relay
claims due rows in one short transaction (hidden from other workers for a lease), runs each
row's handlers outside any transaction, and then marks the row delivered, or failed with an
exponentially growing, jittered delay. A worker that dies mid-batch loses nothing: its lease
runs out and another worker claims the rows again. Handlers must therefore be idempotent
(the case system's creation is, by the portal's case id; notifications carry a dedupe key).

Generic on purpose: the case-system write-back, e-mails and live updates register handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from attrs import frozen

from portal_core.events import DomainEvent
from portal_core.ports import Clock, OutboxMessage, UnitOfWorkFactory

log = logging.getLogger(__name__)

DeliveryHandler = Callable[[Any], None]
"""Carries out one event's side effect; raises to have the message retried later."""

MAX_ERROR_LENGTH = 500


class RetryLater(Exception):
    """A handler cannot do its work now (the case system is down, a prerequisite is pending).

    The message is only an explanation for the log: it must never hold a secret.
    """


@frozen(kw_only=True)
class BackoffPolicy:
    """Delay before the n-th retry: `initial * factor**(n-1)`, capped at `maximum`, then
    jittered down by up to `jitter` of itself so that many failed messages spread out."""

    initial: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    maximum: timedelta = timedelta(hours=1)
    jitter: float = 0.5

    def delay(self, attempts: int, draw: Callable[[], float]) -> timedelta:
        """The wait after the `attempts`-th failed attempt; `draw()` returns a float in [0, 1)."""
        exponent = max(attempts, 1) - 1
        # Bounded before exponentiation so that a message failing for weeks cannot overflow.
        seconds = self.initial.total_seconds() * self.factor ** min(exponent, 64)
        base = min(seconds, self.maximum.total_seconds())
        return timedelta(seconds=base * (1 - self.jitter * draw()))


def merge_handlers(
    *registries: Mapping[type[DomainEvent], DeliveryHandler | Sequence[DeliveryHandler]],
) -> dict[type[DomainEvent], tuple[DeliveryHandler, ...]]:
    """One registry from several (the case-system write-back, e-mails, live updates, ...):
    every handler of an event type runs, in the order the registries were given."""
    merged: dict[type[DomainEvent], tuple[DeliveryHandler, ...]] = {}
    for registry in registries:
        for event_type, found in registry.items():
            handlers = tuple(found) if isinstance(found, Sequence) else (found,)
            merged[event_type] = merged.get(event_type, ()) + handlers
    return merged


@frozen(kw_only=True)
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    failures: tuple[str, ...] = ()
    """The ids of the messages that failed this round."""


class OutboxRelay:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        handlers: Mapping[type[DomainEvent], DeliveryHandler | Sequence[DeliveryHandler]],
        batch_size: int = 50,
        lease: timedelta = timedelta(minutes=5),
        draw: Callable[[], float],
        backoff: BackoffPolicy | None = None,
    ) -> None:
        """`draw` is the jitter's random source, a float in [0, 1): `random.random` in
        production (the core takes no randomness of its own), a fixed value in tests."""
        if batch_size < 1:
            raise ValueError("A batch holds at least one message.")
        self._uow = uow
        self._clock = clock
        self._handlers = merge_handlers(handlers)
        self._batch_size = batch_size
        self._lease = lease
        self._backoff = backoff or BackoffPolicy()
        self._draw = draw

    def run_once(self) -> DeliveryReport:
        """Deliver one batch of due messages. Returns what happened; never raises for a handler."""
        with self._uow() as uow:
            claimed = list(
                uow.outbox.claim(limit=self._batch_size, now=self._clock.now(), lease=self._lease)
            )
            uow.commit()
        delivered = 0
        failures: list[str] = []
        for message in claimed:
            error = self._deliver(message)
            with self._uow() as uow:
                if error is None:
                    uow.outbox.mark_delivered(message.id, at=self._clock.now())
                    delivered += 1
                else:
                    delay = self._backoff.delay(message.attempts, self._draw)
                    uow.outbox.mark_failed(
                        message.id, error=error, retry_at=self._clock.now() + delay
                    )
                    failures.append(message.id)
                uow.commit()
        return DeliveryReport(
            claimed=len(claimed),
            delivered=delivered,
            failed=len(failures),
            failures=tuple(failures),
        )

    def handlers_for(self, event: DomainEvent) -> tuple[DeliveryHandler, ...]:
        return tuple(
            handler
            for event_type, handlers in self._handlers.items()
            if isinstance(event, event_type)
            for handler in handlers
        )

    def _deliver(self, message: OutboxMessage) -> str | None:
        """Run every handler for the message; the error text if one failed, else None."""
        for handler in self.handlers_for(message.event):
            try:
                handler(message.event)
            except RetryLater as exc:
                log.info(
                    "outbox message %s (%s) postponed, attempt %d: %s",
                    message.id,
                    message.event.kind,
                    message.attempts,
                    exc,
                )
                return _error_text(exc)
            except Exception as exc:  # any handler failure is retried later, never lost
                log.warning(
                    "outbox message %s (%s) failed, attempt %d: %s",
                    message.id,
                    message.event.kind,
                    message.attempts,
                    _error_text(exc),
                )
                return _error_text(exc)
        return None


def _error_text(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:MAX_ERROR_LENGTH]
