from __future__ import annotations

from decimal import Decimal

import pytest
from attrs import evolve

from portal_core.billing.contract import CaseFee
from portal_core.errors import Conflict
from portal_core.ports import UnitOfWorkFactory

from .billing_factories import fixed_fee_contract, hourly_contract, retainer_contract
from .factories import at, case, organisation


def test_every_kind_of_contract_reads_back_exactly(uow: UnitOfWorkFactory) -> None:
    contracts = [hourly_contract(), retainer_contract(), fixed_fee_contract()]
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        for contract in contracts:
            work.contracts.add(contract)
        with pytest.raises(Conflict):
            work.contracts.add(hourly_contract())
        work.commit()
    with uow() as work:
        for contract in contracts:
            stored = work.contracts.get(contract.id)
            assert stored == contract
            assert stored is not None
            assert type(stored.terms) is type(contract.terms)
        assert work.contracts.get("k-9") is None
        hourly = work.contracts.get("k-1")
    assert hourly is not None
    assert str(hourly.rates["Engineer"]) == "140.125"  # exact, never through a float


def test_the_newest_contract_is_in_force_and_of_equal_times_the_last_added(
    uow: UnitOfWorkFactory,
) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.organisations.add(organisation("org-2"))
        assert work.contracts.current("org-1") is None
        work.contracts.add(hourly_contract("k-b", created_at=at(10)))
        work.contracts.add(hourly_contract("k-a", created_at=at(10)))
        work.contracts.add(hourly_contract("k-old", created_at=at(5)))
        work.contracts.add(hourly_contract("k-other", "org-2", created_at=at(20)))
        work.commit()
    with uow() as work:
        current = work.contracts.current("org-1")
    assert current is not None
    assert current.id == "k-a"


def test_a_case_fee_is_set_and_replaced(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.cases.add(case("c-1"))
        assert work.case_fees.get("c-1") is None
        work.case_fees.put(CaseFee(case_id="c-1", organisation_id="org-1", case_type="onboarding"))
        work.commit()
    with uow() as work:
        assert work.case_fees.get("c-1") == CaseFee(
            case_id="c-1", organisation_id="org-1", case_type="onboarding"
        )
        own_price = CaseFee(case_id="c-1", organisation_id="org-1", price=Decimal("1999.90"))
        work.case_fees.put(own_price)
        work.commit()
    with uow() as work:
        stored = work.case_fees.get("c-1")
    assert stored == own_price
    assert stored is not None
    assert str(stored.price) == "1999.90"
    assert evolve(stored) == own_price
