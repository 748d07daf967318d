from __future__ import annotations

import pytest
from attrs import evolve

from portal_core.cases.model import CaseStatus, Priority
from portal_core.errors import ConcurrencyConflict, Conflict, NotFound
from portal_core.ports import CaseQuery, UnitOfWorkFactory

from .factories import at, case, organisation


def _with_organisations(uow: UnitOfWorkFactory, *ids: str) -> None:
    with uow() as work:
        for organisation_id in ids or ("org-1",):
            work.organisations.add(organisation(organisation_id))
        work.commit()


def test_a_case_reads_back_exactly_by_id_reference_and_external_id(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow)
    stored = evolve(
        case("c-1"),
        external_id="500XYZ",
        external_number="00001042",
        assignee_id="s-1",
        resolved_at=at(90),
        external_modified_at=at(80),
    )
    with uow() as work:
        work.cases.add(stored)
        work.commit()
    with uow() as work:
        assert work.cases.get("c-1") == stored
        assert work.cases.by_reference("REF-c-1") == stored
        assert work.cases.by_external_id("500XYZ") == stored
        assert work.cases.get("c-2") is None
        assert work.cases.by_reference("REF-c-2") is None
        assert work.cases.by_external_id("500ABC") is None


def test_a_reference_belongs_to_one_case(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow)
    with uow() as work:
        work.cases.add(case("c-1"))
        with pytest.raises(Conflict):
            work.cases.add(evolve(case("c-2"), reference="REF-c-1"))


def test_an_update_with_the_read_version_is_kept(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow)
    with uow() as work:
        work.cases.add(case("c-1"))
        work.commit()
    with uow() as work:
        current = work.cases.get("c-1")
        assert current is not None
        moved, _ = current.change_status(
            CaseStatus.IN_PROGRESS, by_staff=True, actor_id="s-1", event_id="e-2", at=at(5)
        )
        work.cases.update(moved, expected_version=current.version)
        work.commit()
    with uow() as work:
        assert work.cases.get("c-1") == moved


def test_an_older_edit_never_overwrites_a_newer_one(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow)
    with uow() as work:
        work.cases.add(case("c-1"))
        work.commit()
    original = case("c-1")
    first, _ = original.assign("s-1", actor_id="s-1", event_id="e-2", at=at(5))
    second, _ = original.assign("s-2", actor_id="s-2", event_id="e-3", at=at(6))
    with uow() as work:
        work.cases.update(first, expected_version=original.version)
        work.commit()
    with uow() as work:
        with pytest.raises(ConcurrencyConflict, match="changed by someone else"):
            work.cases.update(second, expected_version=original.version)
        with pytest.raises(NotFound):
            work.cases.update(case("c-9"), expected_version=1)
        work.commit()
    with uow() as work:
        kept = work.cases.get("c-1")
        assert kept is not None
        assert kept.assignee_id == "s-1"


def test_linking_two_cases_to_one_external_record_is_refused(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow)
    with uow() as work:
        work.cases.add(evolve(case("c-1"), external_id="500XYZ"))
        work.cases.add(case("c-2"))
        with pytest.raises(Conflict, match="external record"):
            work.cases.update(evolve(case("c-2"), external_id="500XYZ"), expected_version=1)
        work.commit()
    with uow() as work:
        unlinked = work.cases.get("c-2")
        assert unlinked is not None
        assert unlinked.external_id is None


def _seed_for_search(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow, "org-1", "org-2")
    with uow() as work:
        for number in range(1, 8):
            work.cases.add(case(f"c-{number}", "org-1", minute=number))
        work.cases.add(case("c-8", "org-2", minute=8, subject="Tax return"))
        # equal times: the id breaks the tie, highest first
        work.cases.add(case("c-9", "org-2", minute=8))
        work.cases.update(
            evolve(case("c-3", minute=3), status=CaseStatus.RESOLVED, priority=Priority.URGENT),
            expected_version=1,
        )
        work.cases.update(
            evolve(case("c-5", minute=5), assignee_id="s-1", external_number="SF-000777"),
            expected_version=1,
        )
        work.cases.update(
            evolve(case("c-6", minute=6), subject="Größere Änderung 100%_done"),
            expected_version=1,
        )
        work.commit()


def _ids(uow: UnitOfWorkFactory, query: CaseQuery, scope: str | None = None) -> list[str]:
    with uow() as work:
        return [c.id for c in work.cases.search(query, scope=scope).items]


def test_case_lists_are_newest_first_and_scoped(uow: UnitOfWorkFactory) -> None:
    _seed_for_search(uow)
    assert _ids(uow, CaseQuery()) == ["c-9", "c-8", "c-7", "c-6", "c-5", "c-4", "c-3", "c-2", "c-1"]
    assert _ids(uow, CaseQuery(), scope="org-2") == ["c-9", "c-8"]
    assert _ids(uow, CaseQuery(organisation_id="org-2")) == ["c-9", "c-8"]
    # a client's scope wins over the organisation they ask for
    assert _ids(uow, CaseQuery(organisation_id="org-1"), scope="org-2") == ["c-9", "c-8"]


def test_case_lists_filter_by_status_priority_and_assignee(uow: UnitOfWorkFactory) -> None:
    _seed_for_search(uow)
    open_statuses = frozenset({CaseStatus.NEW, CaseStatus.IN_PROGRESS})
    assert "c-3" not in _ids(uow, CaseQuery(statuses=open_statuses))
    assert _ids(uow, CaseQuery(statuses=frozenset({CaseStatus.RESOLVED}))) == ["c-3"]
    assert _ids(uow, CaseQuery(priority=Priority.URGENT)) == ["c-3"]
    assert _ids(uow, CaseQuery(assignee_id="s-1")) == ["c-5"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TAX", ["c-8"]),
        ("ref-C-2", ["c-2"]),
        ("sf-000", ["c-5"]),
        ("GRÖSSERE", ["c-6"]),
        ("100%_", ["c-6"]),
        ("%", ["c-6"]),
        ("_", ["c-6"]),
        ("nothing like it", []),
    ],
)
def test_text_matches_subject_and_numbers_regardless_of_case(
    uow: UnitOfWorkFactory, text: str, expected: list[str]
) -> None:
    _seed_for_search(uow)
    assert _ids(uow, CaseQuery(text=text)) == expected


def test_pages_hold_the_total_and_the_right_slice(uow: UnitOfWorkFactory) -> None:
    _seed_for_search(uow)
    with uow() as work:
        first = work.cases.search(CaseQuery(page_size=4), scope="org-1")
        last = work.cases.search(CaseQuery(page=2, page_size=4), scope="org-1")
        beyond = work.cases.search(CaseQuery(page=3, page_size=4), scope="org-1")
    assert ([c.id for c in first.items], first.total, first.has_next) == (
        ["c-7", "c-6", "c-5", "c-4"],
        7,
        True,
    )
    assert ([c.id for c in last.items], last.total, last.has_next) == (
        ["c-3", "c-2", "c-1"],
        7,
        False,
    )
    assert (beyond.items, beyond.total) == ((), 7)
