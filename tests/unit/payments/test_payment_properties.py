"""Properties of payment events: duplicated and reordered deliveries never change what is paid."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from portal_core.billing.events import PaymentRecorded
from portal_core.billing.money import MINOR_UNITS, Money
from portal_core.payments.model import (
    PaymentEvent,
    PaymentRefused,
    from_minor_units,
    to_minor_units,
)
from tests.unit.payments.builders import PayWorld, make_pay_world, paid_event

Delivery = tuple[int, bool]
"""(index of the distinct payment, re-reported under a new event id rather than re-sent)."""


def _world() -> tuple[PayWorld, list[str]]:
    world = make_pay_world()
    acme = world.issued_invoice(150, "acme")  # 540.00
    globex = world.issued_invoice(60, "globex")  # 216.00
    return world, [acme.id, globex.id]


def _event(invoice_ids: list[str], payment: tuple[int, int], index: int) -> PaymentEvent:
    invoice, cents = payment
    amount = Money(Decimal(cents).scaleb(-2), "EUR")
    return paid_event(
        invoice_ids[invoice], amount, event_id=f"evt-{index}", reference=f"pi_{index}"
    )


def _deliver(world: PayWorld, event: PaymentEvent) -> None:
    # A payment refused because the invoice is paid already records nothing.
    with contextlib.suppress(PaymentRefused):
        world.payments.handle_event(event)


def _paid(world: PayWorld, invoice_ids: list[str]) -> list[Money]:
    return [world.invoice(i).amount_paid for i in invoice_ids]


@st.composite
def histories(draw: st.DrawFn, max_cents: int) -> tuple[list[tuple[int, int]], list[Delivery]]:
    payments = draw(
        st.lists(st.tuples(st.integers(0, 1), st.integers(1, max_cents)), min_size=1, max_size=6)
    )
    copies = draw(st.lists(st.tuples(st.integers(0, len(payments) - 1), st.booleans())))
    deliveries = [(index, False) for index in range(len(payments))] + copies
    return payments, draw(st.permutations(deliveries))


def _replay(
    world: PayWorld,
    invoice_ids: list[str],
    payments: list[tuple[int, int]],
    deliveries: list[Delivery],
) -> None:
    for copy, (index, reported_again) in enumerate(deliveries):
        event = _event(invoice_ids, payments[index], index)
        if reported_again:  # the same payment in a different notification
            event = evolve(event, event_id=f"evt-{index}-again-{copy}")
        _deliver(world, event)


# At most 36.00 a payment and six payments: never more than the smaller invoice's 216.00, so no
# payment is refused and the order of arrival cannot matter.
@given(histories(max_cents=3600))
def test_duplicated_and_reordered_events_pay_each_distinct_payment_once(
    history: tuple[list[tuple[int, int]], list[Delivery]],
) -> None:
    payments, deliveries = history
    world, invoice_ids = _world()
    _replay(world, invoice_ids, payments, deliveries)
    expected = [
        Money(sum((Decimal(c) for i, c in payments if i == n), Decimal(0)).scaleb(-2), "EUR")
        for n in range(2)
    ]
    assert _paid(world, invoice_ids) == expected
    receipts = [
        m
        for m in world.billing.storage.state.outbox.values()
        if m.event.kind == PaymentRecorded.kind
    ]
    assert len(receipts) == len(payments)


# Up to 600.00 a payment: later payments may find the invoice paid and be refused. Whatever
# copies arrive, the result is that of each distinct payment applied once, in order of arrival.
@given(histories(max_cents=60000))
def test_copies_of_events_change_nothing_even_when_payments_are_refused(
    history: tuple[list[tuple[int, int]], list[Delivery]],
) -> None:
    payments, deliveries = history
    world, invoice_ids = _world()
    _replay(world, invoice_ids, payments, deliveries)
    reference, reference_ids = _world()
    first_arrivals = list(dict.fromkeys(index for index, _ in deliveries))
    for index in first_arrivals:
        _deliver(reference, _event(reference_ids, payments[index], index))
    assert _paid(world, invoice_ids) == _paid(reference, reference_ids)


@given(
    st.integers(0, 10**12),
    st.sampled_from(sorted(MINOR_UNITS)),
)
def test_minor_units_convert_both_ways_exactly(units: int, currency: str) -> None:
    amount = from_minor_units(units, currency)
    assert amount.is_rounded
    assert to_minor_units(amount) == units
    assert amount.amount * Decimal(10) ** MINOR_UNITS[currency] == units
