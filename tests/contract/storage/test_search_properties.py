"""Properties: any case reads back exactly, and any text search finds on SQL exactly what the
in-memory fake finds (case folding beyond ASCII, LIKE's wildcards taken literally)."""

from __future__ import annotations

import itertools

from attrs import evolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory import InMemoryStorage
from adapters.sql import SqlStorage
from portal_core.cases.model import Case, CaseStatus, Priority
from portal_core.ports import CaseQuery

from .factories import at, organisation

# Letters that fold differently from lower(), LIKE's wildcards and escape, and plain text.
TRICKY = "aAzZßẞİıΣσςﬁÉé%_\\/ -0"
words = st.text(alphabet=st.sampled_from(TRICKY) | st.characters(codec="utf-8"), max_size=12)
subjects = words.filter(lambda s: " ".join(s.split()) != "" and "\x00" not in s)
needles = st.text(alphabet=st.sampled_from(TRICKY), min_size=1, max_size=3)

_scopes = itertools.count()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subject_list=st.lists(subjects, min_size=1, max_size=5),
    numbers=st.lists(st.none() | words.filter(lambda s: "\x00" not in s), min_size=5, max_size=5),
    statuses=st.lists(st.sampled_from(CaseStatus), min_size=5, max_size=5),
    needle=needles,
)
def test_a_text_search_finds_on_sql_what_the_fake_finds(
    sql_storage: SqlStorage,
    subject_list: list[str],
    numbers: list[str | None],
    statuses: list[CaseStatus],
    needle: str,
) -> None:
    scope = f"org-p{next(_scopes)}"  # each example in an organisation of its own
    fake = InMemoryStorage()
    made: list[Case] = []
    for position, subject in enumerate(subject_list):
        case, _ = Case.submit(
            case_id=f"{scope}-c{position}",
            organisation_id=scope,
            reference=f"{scope}/{position}/{numbers[position] or ''}",
            subject=subject,
            description="",
            priority=Priority.NORMAL,
            submitted_by="u-1",
            event_id=f"{scope}-e{position}",
            at=at(position % 2),  # equal times too: the id breaks ties
        )
        made.append(evolve(case, status=statuses[position], external_number=numbers[position]))
    for storage in (fake, sql_storage):
        with storage.unit_of_work() as work:
            work.organisations.add(organisation(scope))
            for case in made:
                work.cases.add(case)
            work.commit()

    query = CaseQuery(text=needle, page_size=3)
    open_query = CaseQuery(text=needle, statuses=frozenset({CaseStatus.NEW}), page_size=3)
    with fake.unit_of_work() as expected, sql_storage.unit_of_work() as actual:
        for case in made:
            assert actual.cases.get(case.id) == case
        for wanted in (query, open_query, evolve(query, page=2)):
            assert actual.cases.search(wanted, scope=scope) == expected.cases.search(
                wanted, scope=scope
            )
