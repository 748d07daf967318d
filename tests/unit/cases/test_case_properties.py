"""Properties of cases that hold for every sequence of commands (Hypothesis)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from portal_core import access
from portal_core.audit import first_broken_entry
from portal_core.cases.model import (
    ALLOWED_MOVES,
    Case,
    CaseStatus,
    CaseStatusChanged,
    CommentAdded,
    Priority,
    Visibility,
)
from portal_core.cases.service import AddComment, AssignCase, ChangeStatus, SubmitCase
from portal_core.errors import DomainError
from portal_core.organisations.model import Principal, Role
from tests.unit.cases.builders import START, World, make_world


class CaseLifecycle(RuleBasedStateMachine):
    """Random commands from random people against one case: whatever is accepted or refused,
    the case never reaches an illegal state, and its history always rebuilds it exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.world: World = make_world()
        self.case_id: str | None = None
        self.people = {
            "client_admin": self.world.acme_admin,
            "client_viewer": self.world.acme_viewer,
            "other_client": self.world.globex_admin,
            "staff": self.world.staff,
        }

    @precondition(lambda self: self.case_id is None)
    @rule()
    def submit(self) -> None:
        case = self.world.service.submit(
            self.world.acme_admin, SubmitCase(subject="Audit support", description="")
        )
        self.case_id = case.id

    @precondition(lambda self: self.case_id is not None)
    @rule(
        who=st.sampled_from(["client_admin", "client_viewer", "other_client", "staff"]),
        to=st.sampled_from(list(CaseStatus)),
    )
    def change_status(self, who: str, to: CaseStatus) -> None:
        assert self.case_id is not None
        with contextlib.suppress(DomainError):
            self.world.service.change_status(
                self.people[who], ChangeStatus(case_id=self.case_id, status=to)
            )

    @precondition(lambda self: self.case_id is not None)
    @rule(
        who=st.sampled_from(["client_admin", "client_viewer", "other_client", "staff"]),
        visibility=st.sampled_from(list(Visibility)),
        body=st.text(min_size=0, max_size=20),
    )
    def comment(self, who: str, visibility: Visibility, body: str) -> None:
        assert self.case_id is not None
        with contextlib.suppress(DomainError):
            self.world.service.comment(
                self.people[who], AddComment(case_id=self.case_id, body=body, visibility=visibility)
            )

    @precondition(lambda self: self.case_id is not None)
    @rule(assignee=st.sampled_from(["sam", "ada", "ann", None]))
    def assign(self, assignee: str | None) -> None:
        assert self.case_id is not None
        with contextlib.suppress(DomainError):
            self.world.service.assign(
                self.world.staff, AssignCase(case_id=self.case_id, assignee_id=assignee)
            )

    @rule(days=st.integers(min_value=0, max_value=30))
    def time_passes(self, days: int) -> None:
        self.world.clock.advance(timedelta(days=days, minutes=1))

    def _stored(self) -> tuple[Case, list[object]]:
        assert self.case_id is not None
        with self.world.storage.unit_of_work() as uow:
            case = uow.cases.get(self.case_id)
            history = list(uow.history.for_case(self.case_id))
        assert case is not None
        return case, history

    @precondition(lambda self: self.case_id is not None)
    @invariant()
    def status_and_dates_agree(self) -> None:
        case, _ = self._stored()
        if case.status is CaseStatus.RESOLVED:
            assert case.resolved_at is not None
        if case.status is CaseStatus.CLOSED:
            assert case.closed_at is not None
        if case.status.is_open:
            assert case.resolved_at is None
            assert case.closed_at is None
        assert case.assignee_id in {None, "sam", "ada"}

    @precondition(lambda self: self.case_id is not None)
    @invariant()
    def every_recorded_move_is_allowed(self) -> None:
        _, history = self._stored()
        for event in history:
            if isinstance(event, CaseStatusChanged):
                assert event.new_status in ALLOWED_MOVES[event.old_status]

    @precondition(lambda self: self.case_id is not None)
    @invariant()
    def replaying_the_history_rebuilds_the_same_case(self) -> None:
        case, history = self._stored()
        assert Case.from_history(history) == case  # type: ignore[arg-type]
        assert case.version == len(history)

    @precondition(lambda self: self.case_id is not None)
    @invariant()
    def no_client_ever_reads_an_internal_note(self) -> None:
        assert self.case_id is not None
        for who in ("client_admin", "client_viewer"):
            detail = self.world.service.get_case(self.people[who], self.case_id)
            assert all(e.visibility is Visibility.PUBLIC for e in detail.timeline)

    @invariant()
    def the_audit_trail_has_one_intact_entry_per_change(self) -> None:
        with self.world.storage.unit_of_work() as uow:
            entries = list(uow.audit.entries())
            events = list(uow.history.for_case(self.case_id)) if self.case_id is not None else []
        assert first_broken_entry(entries) is None
        assert len(entries) == len(events)


TestCaseLifecycle = CaseLifecycle.TestCase


# --- access over random principals and cases -------------------------------------------------

organisations = st.sampled_from(["acme", "globex", "initech"])
client_roles = st.frozensets(
    st.sampled_from([Role.CLIENT_VIEWER, Role.CLIENT_ADMIN, Role.BILLING_CONTACT]), min_size=1
)
staff_roles = st.frozensets(st.sampled_from([Role.STAFF, Role.ADMIN]), min_size=1)
principals = st.one_of(
    st.builds(Principal, user_id=st.just("u"), organisation_id=organisations, roles=client_roles),
    st.builds(Principal, user_id=st.just("s"), organisation_id=st.none(), roles=staff_roles),
)


@st.composite
def cases_with_history(draw: st.DrawFn) -> tuple[Case, list[object]]:

    case, submitted = Case.submit(
        case_id="c1",
        organisation_id=draw(organisations),
        reference="C-000001",
        subject="Subject",
        description="",
        priority=draw(st.sampled_from(list(Priority))),
        submitted_by="u",
        event_id="e0",
        at=START,
    )
    history: list[object] = [submitted]
    for n, visibility in enumerate(draw(st.lists(st.sampled_from(list(Visibility)), max_size=6))):
        case, added = case.add_comment(
            f"note {n}",
            visibility=visibility,
            comment_id=f"m{n}",
            actor_id="s",
            event_id=f"e{n + 1}",
            at=START,
        )
        history.append(added)
    return case, history


@given(principal=principals, case_and_history=cases_with_history())
def test_no_principal_sees_across_organisations_or_a_client_an_internal_note(
    principal: Principal, case_and_history: tuple[Case, list[object]]
) -> None:
    case, history = case_and_history
    visible = access.can_see_case(principal, case)
    assert visible == (principal.is_staff or principal.organisation_id == case.organisation_id)
    shown = access.visible_history(principal, history)  # type: ignore[arg-type]
    internal = [
        e for e in shown if isinstance(e, CommentAdded) and e.visibility is Visibility.INTERNAL
    ]
    if not principal.is_staff:
        assert internal == []
    if visible and not principal.is_staff:
        assert not access.can_comment(principal, case, Visibility.INTERNAL)
    if not visible:
        assert not access.can_comment(principal, case, Visibility.PUBLIC)
        assert not access.can_upload(principal, case)
        assert not access.can_change_status(principal, case)
