"""Any interleaving of duplicated and reordered deliveries ends in each record's newest version."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from portal_core.cases.model import CaseStatus, CaseSynced, Priority
from portal_core.sync import InboundCaseChange
from tests.unit.sync.builders import change, make_world

RECORD_IDS = ("500000000000001AAA", "500000000000002AAA", "500000000000003AAA")
# Few distinct values, so that consecutive versions often carry the same ones (as an echo does).
VALUES = (
    (CaseStatus.NEW, Priority.NORMAL, "Payroll"),
    (CaseStatus.IN_PROGRESS, Priority.NORMAL, "Payroll"),
    (CaseStatus.RESOLVED, Priority.HIGH, "VAT return"),
)


@st.composite
def record_versions(draw: st.DrawFn) -> list[InboundCaseChange]:
    """Every version of a few records: distinct notification ids, increasing modification times."""
    versions: list[InboundCaseChange] = []
    for index, external_id in enumerate(RECORD_IDS[: draw(st.integers(1, len(RECORD_IDS)))]):
        minutes = draw(
            st.lists(st.integers(0, 600), min_size=1, max_size=5, unique=True).map(sorted)
        )
        for version, minute in enumerate(minutes):
            status, priority, subject = draw(st.sampled_from(VALUES))
            versions.append(
                change(
                    f"04l-{index}-{version}",
                    external_id=external_id,
                    minutes=minute,
                    number=f"0000{index + 1000}",
                    status=status,
                    priority=priority,
                    subject=subject,
                )
            )
    return versions


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[InboundCaseChange], list[list[InboundCaseChange]]]:
    """The versions, plus messages delivering each at least once, duplicated and shuffled."""
    versions = draw(record_versions())
    copies = draw(st.lists(st.sampled_from(versions), max_size=len(versions) * 2))
    stream = draw(st.permutations(versions + copies))
    messages: list[list[InboundCaseChange]] = []
    position = 0
    while position < len(stream):
        size = draw(st.integers(1, 4))
        messages.append(list(stream[position : position + size]))
        position += size
    return versions, messages


@given(deliveries())
def test_any_interleaving_of_duplicated_and_reordered_versions_ends_in_the_newest(
    delivery: tuple[list[InboundCaseChange], list[list[InboundCaseChange]]],
) -> None:
    versions, messages = delivery
    world = make_world()
    for message in messages:
        world.service.apply(message)

    newest: dict[str, InboundCaseChange] = {}
    for version in versions:
        held = newest.get(version.external_id)
        if held is None or version.modified_at > held.modified_at:
            newest[version.external_id] = version
    for external_id, expected in newest.items():
        case = world.case_by_external_id(external_id)
        assert case is not None
        assert (case.status, case.priority, case.subject, case.number) == (
            expected.status,
            expected.priority,
            expected.subject,
            expected.number,
        )
        assert case.external_modified_at == expected.modified_at
    # One portal case per record, and no version applied more than once.
    assert len(world.storage.state.cases) == len(newest)
    synced = Counter(
        (e.case_id, e.external_modified_at)
        for e in world.storage.state.history
        if isinstance(e, CaseSynced)
    )
    assert all(count == 1 for count in synced.values())
