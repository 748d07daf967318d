from __future__ import annotations

import pytest
from attrs import evolve

from portal_core.errors import Conflict, NotFound
from portal_core.ports import UnitOfWorkFactory

from .factories import organisation


def test_an_added_organisation_reads_back_exactly(uow: UnitOfWorkFactory) -> None:
    stored = organisation("org-1", external_account_id="001ACC")
    with uow() as work:
        work.organisations.add(stored)
        work.commit()
    with uow() as work:
        assert work.organisations.get("org-1") == stored
        assert work.organisations.by_external_account("001ACC") == stored
        assert work.organisations.get("org-2") is None
        assert work.organisations.by_external_account("002ACC") is None


def test_two_organisations_cannot_mirror_one_account(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1", external_account_id="001ACC"))
        with pytest.raises(Conflict, match="linked to that account"):
            work.organisations.add(organisation("org-2", external_account_id="001ACC"))
        # the unit of work stays usable after the refusal
        work.organisations.add(organisation("org-3"))
        work.commit()
    with uow() as work:
        assert [o.id for o in work.organisations.list()] == ["org-1", "org-3"]


def test_an_organisation_id_is_never_reused(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        with pytest.raises(Conflict):
            work.organisations.add(organisation("org-1", name="Someone else"))


def test_an_update_is_kept_and_linking_a_taken_account_is_refused(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1", external_account_id="001ACC"))
        work.organisations.add(organisation("org-2"))
        work.organisations.update(organisation("org-2", name="Renamed", active=False))
        with pytest.raises(Conflict):
            work.organisations.update(organisation("org-2", external_account_id="001ACC"))
        with pytest.raises(NotFound):
            work.organisations.update(organisation("org-9"))
        work.commit()
    with uow() as work:
        renamed = work.organisations.get("org-2")
        assert renamed is not None
        assert (renamed.name, renamed.active, renamed.external_account_id) == (
            "Renamed",
            False,
            None,
        )


def test_organisations_are_listed_by_name_regardless_of_case(uow: UnitOfWorkFactory) -> None:
    names = {"org-a": "beta Ltd", "org-b": "Alpha GmbH", "org-c": "Émile & Co", "org-d": "alpha"}
    with uow() as work:
        for organisation_id, name in names.items():
            work.organisations.add(evolve(organisation(organisation_id), name=name))
        work.commit()
    with uow() as work:
        listed = [o.name for o in work.organisations.list()]
    assert listed == ["alpha", "Alpha GmbH", "beta Ltd", "Émile & Co"]
