"""Business rules of cases, through the CaseService on in-memory fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_core.audit import first_broken_entry
from portal_core.cases.model import (
    CaseStatus,
    CaseStatusChanged,
    CaseSubmitted,
    CommentAdded,
    Priority,
    Visibility,
)
from portal_core.cases.service import (
    AddComment,
    AssignCase,
    AttachFiles,
    ChangeStatus,
    SubmitCase,
    UploadedFile,
)
from portal_core.errors import (
    ConcurrencyConflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from portal_core.ports import CaseQuery
from tests.unit.cases.builders import World, make_world


@pytest.fixture
def world() -> World:
    return make_world()


def submit(world: World, subject: str = "VAT return Q1", **kwargs: object) -> str:
    case = world.service.submit(
        world.acme_admin,
        SubmitCase(subject=subject, description="Please file it.", **kwargs),  # type: ignore[arg-type]
    )
    return case.id


def test_a_submitted_request_gets_a_case_number_at_once(world: World) -> None:
    case = world.service.submit(
        world.acme_admin, SubmitCase(subject="  VAT   return ", description="Q1 figures attached")
    )
    assert case.reference == "C-000001"
    assert case.number == "C-000001"
    assert case.status is CaseStatus.NEW
    assert case.subject == "VAT return"
    assert case.organisation_id == "acme"


def test_case_numbers_follow_each_other_without_gaps(world: World) -> None:
    refs = [world.service.get_case(world.staff, submit(world)).case.reference for _ in range(3)]
    assert refs == ["C-000001", "C-000002", "C-000003"]


def test_a_client_always_files_into_their_own_organisation(world: World) -> None:
    case = world.service.submit(
        world.acme_admin,
        SubmitCase(subject="Sneaky", description="", organisation_id="globex"),
    )
    assert case.organisation_id == "acme"


def test_staff_file_on_behalf_of_a_named_client(world: World) -> None:
    case = world.service.submit(
        world.staff, SubmitCase(subject="Phone call", description="", organisation_id="globex")
    )
    assert case.organisation_id == "globex"
    with pytest.raises(InvalidInput):
        world.service.submit(world.staff, SubmitCase(subject="Whose?", description=""))


def test_a_viewer_cannot_submit_requests(world: World) -> None:
    with pytest.raises(PermissionDenied):
        world.service.submit(world.acme_viewer, SubmitCase(subject="x", description=""))


def test_an_empty_subject_is_refused_and_nothing_is_stored(world: World) -> None:
    with pytest.raises(InvalidInput):
        world.service.submit(world.acme_admin, SubmitCase(subject="   ", description=""))
    assert world.service.list_cases(world.staff, CaseQuery()).total == 0
    with world.storage.unit_of_work() as uow:
        assert list(uow.audit.entries()) == []
        assert uow.outbox.pending_count() == 0


def test_submission_is_audited_and_queued_for_delivery_in_one_transaction(world: World) -> None:
    case_id = submit(world)
    with world.storage.unit_of_work() as uow:
        entries = list(uow.audit.entries())
        assert [e.record.action for e in entries] == ["case.submitted"]
        assert entries[0].record.subject_id == case_id
        claimed = uow.outbox.claim(limit=10, now=world.clock.now(), lease=timedelta(minutes=1))
        assert [type(m.event) for m in claimed] == [CaseSubmitted]


def test_events_reach_subscribers_only_after_commit(world: World) -> None:
    heard: list[str] = []

    def listener(event: CaseSubmitted) -> None:
        # By the time a subscriber hears of the case, it is readable in a new transaction.
        with world.storage.unit_of_work() as uow:
            assert uow.cases.get(event.case_id) is not None
        heard.append(event.reference)

    world.dispatcher.subscribe(CaseSubmitted, listener)
    submit(world)
    assert heard == ["C-000001"]


def test_a_failing_subscriber_does_not_undo_the_committed_change(world: World) -> None:
    def broken(event: CaseSubmitted) -> None:
        raise RuntimeError("live channel down")

    world.dispatcher.subscribe(CaseSubmitted, broken)
    case_id = submit(world)
    assert world.service.get_case(world.acme_admin, case_id).case.id == case_id


def test_files_uploaded_by_the_client_are_attached_with_a_clean_name(world: World) -> None:
    key = "org/acme/upload/u1"
    world.files.put(key, b"%PDF-1.7 ...", "application/pdf")
    case = world.service.submit(
        world.acme_admin,
        SubmitCase(
            subject="Contract review",
            description="",
            files=(UploadedFile(storage_key=key, display_name="../../etc/\u202epasswd.pdf"),),
        ),
    )
    detail = world.service.get_case(world.acme_admin, case.id)
    [attachment] = detail.attachments
    assert attachment.display_name == "passwd.pdf"
    assert attachment.storage_key == key
    assert attachment.size == 12
    assert [e.kind for e in detail.timeline] == ["case.submitted", "case.attachment_added"]


def test_another_organisations_upload_cannot_be_attached(world: World) -> None:
    world.files.put("org/globex/upload/u9", b"secret", "text/plain")
    with pytest.raises(NotFound):
        world.service.submit(
            world.acme_admin,
            SubmitCase(
                subject="Steal",
                description="",
                files=(UploadedFile(storage_key="org/globex/upload/u9", display_name="x.txt"),),
            ),
        )
    assert world.service.list_cases(world.staff, CaseQuery()).total == 0


def test_attaching_a_missing_upload_leaves_the_case_unchanged(world: World) -> None:
    case_id = submit(world)
    before = world.service.get_case(world.staff, case_id)
    with pytest.raises(NotFound):
        world.service.attach_files(
            world.acme_admin,
            AttachFiles(
                case_id=case_id,
                files=(UploadedFile(storage_key="org/acme/upload/none", display_name="a"),),
            ),
        )
    assert world.service.get_case(world.staff, case_id) == before


def test_clients_never_see_internal_notes(world: World) -> None:
    case_id = submit(world)
    world.service.comment(
        world.staff,
        AddComment(case_id=case_id, body="Client is slow to pay", visibility=Visibility.INTERNAL),
    )
    world.service.comment(world.staff, AddComment(case_id=case_id, body="We are on it"))
    client_view = world.service.get_case(world.acme_admin, case_id)
    staff_view = world.service.get_case(world.staff, case_id)
    assert [e.text for e in client_view.timeline if e.kind == "case.comment_added"] == [
        "We are on it"
    ]
    assert "Client is slow to pay" in [e.text for e in staff_view.timeline]


def test_clients_cannot_write_internal_notes(world: World) -> None:
    case_id = submit(world)
    with pytest.raises(PermissionDenied):
        world.service.comment(
            world.acme_admin, AddComment(case_id=case_id, body="x", visibility=Visibility.INTERNAL)
        )


def test_a_client_reply_hands_a_waiting_case_back_to_the_firm(world: World) -> None:
    case_id = submit(world)
    world.service.change_status(
        world.staff, ChangeStatus(case_id=case_id, status=CaseStatus.WAITING_ON_CLIENT)
    )
    case = world.service.comment(world.acme_admin, AddComment(case_id=case_id, body="Here it is"))
    assert case.status is CaseStatus.IN_PROGRESS


def test_another_organisations_case_looks_like_no_case_at_all(world: World) -> None:
    case_id = submit(world)
    for attempt in (
        lambda: world.service.get_case(world.globex_admin, case_id),
        lambda: world.service.comment(world.globex_admin, AddComment(case_id=case_id, body="hi")),
        lambda: world.service.change_status(
            world.globex_admin, ChangeStatus(case_id=case_id, status=CaseStatus.CLOSED)
        ),
    ):
        with pytest.raises(NotFound) as raised:
            attempt()
        assert raised.value.message == "No such case."
    with pytest.raises(NotFound) as missing:
        world.service.get_case(world.globex_admin, "no-such-id")
    assert missing.value.message == "No such case."


def test_a_client_list_shows_only_their_organisations_cases(world: World) -> None:
    submit(world, "Acme one")
    world.service.submit(world.globex_admin, SubmitCase(subject="Globex one", description=""))
    acme_page = world.service.list_cases(world.acme_viewer, CaseQuery())
    assert [c.subject for c in acme_page.items] == ["Acme one"]
    foreign = world.service.list_cases(world.acme_viewer, CaseQuery(organisation_id="globex"))
    assert foreign.total == 0
    assert world.service.list_cases(world.staff, CaseQuery()).total == 2


def test_case_lists_filter_search_and_paginate_newest_first(world: World) -> None:
    for n in range(7):
        submit(world, f"Request {n}", priority=Priority.HIGH if n % 2 else Priority.LOW)
        world.clock.advance(timedelta(minutes=1))
    page1 = world.service.list_cases(world.acme_admin, CaseQuery(page_size=3))
    page3 = world.service.list_cases(world.acme_admin, CaseQuery(page=3, page_size=3))
    assert [c.subject for c in page1.items] == ["Request 6", "Request 5", "Request 4"]
    assert page1.total == 7
    assert page1.has_next
    assert [c.subject for c in page3.items] == ["Request 0"]
    assert not page3.has_next
    high = world.service.list_cases(world.acme_admin, CaseQuery(priority=Priority.HIGH))
    assert high.total == 3
    found = world.service.list_cases(world.acme_admin, CaseQuery(text="request 3"))
    assert [c.subject for c in found.items] == ["Request 3"]
    by_number = world.service.list_cases(world.acme_admin, CaseQuery(text="c-000002"))
    assert [c.subject for c in by_number.items] == ["Request 1"]


def test_a_stale_edit_is_reported_not_silently_applied(world: World) -> None:
    case_id = submit(world)
    seen = world.service.get_case(world.staff, case_id).case.version
    world.service.comment(world.acme_admin, AddComment(case_id=case_id, body="Any news?"))
    with pytest.raises(ConcurrencyConflict):
        world.service.change_status(
            world.staff,
            ChangeStatus(case_id=case_id, status=CaseStatus.IN_PROGRESS, expected_version=seen),
        )
    assert world.service.get_case(world.staff, case_id).case.status is CaseStatus.NEW


def test_clients_may_reopen_a_resolved_case_only_within_the_window(world: World) -> None:
    case_id = submit(world)
    world.service.change_status(
        world.staff, ChangeStatus(case_id=case_id, status=CaseStatus.RESOLVED)
    )
    world.clock.advance(timedelta(days=3))
    reopened = world.service.change_status(
        world.acme_admin, ChangeStatus(case_id=case_id, status=CaseStatus.IN_PROGRESS)
    )
    assert reopened.status is CaseStatus.IN_PROGRESS
    assert reopened.resolved_at is None
    world.service.change_status(
        world.staff, ChangeStatus(case_id=case_id, status=CaseStatus.RESOLVED)
    )
    world.clock.advance(timedelta(days=15))
    with pytest.raises(InvalidTransition, match="more than 14 days"):
        world.service.change_status(
            world.acme_admin, ChangeStatus(case_id=case_id, status=CaseStatus.IN_PROGRESS)
        )


def test_only_staff_reopen_a_closed_case(world: World) -> None:
    case_id = submit(world)
    world.service.change_status(
        world.acme_admin, ChangeStatus(case_id=case_id, status=CaseStatus.CLOSED)
    )
    with pytest.raises(InvalidTransition):
        world.service.change_status(
            world.acme_admin, ChangeStatus(case_id=case_id, status=CaseStatus.IN_PROGRESS)
        )
    with pytest.raises(InvalidTransition):
        world.service.comment(world.acme_admin, AddComment(case_id=case_id, body="hello?"))
    case = world.service.change_status(
        world.staff, ChangeStatus(case_id=case_id, status=CaseStatus.IN_PROGRESS)
    )
    assert case.status is CaseStatus.IN_PROGRESS
    assert case.closed_at is None


def test_clients_cannot_move_work_along_for_the_firm(world: World) -> None:
    case_id = submit(world)
    with pytest.raises(InvalidTransition):
        world.service.change_status(
            world.acme_admin, ChangeStatus(case_id=case_id, status=CaseStatus.RESOLVED)
        )
    with pytest.raises(PermissionDenied):
        world.service.change_status(
            world.acme_viewer, ChangeStatus(case_id=case_id, status=CaseStatus.CLOSED)
        )


def test_cases_are_assigned_to_active_staff_only(world: World) -> None:
    case_id = submit(world)
    case = world.service.assign(world.staff, AssignCase(case_id=case_id, assignee_id="ada"))
    assert case.assignee_id == "ada"
    with pytest.raises(InvalidInput):
        world.service.assign(world.staff, AssignCase(case_id=case_id, assignee_id="ann"))
    with pytest.raises(PermissionDenied):
        world.service.assign(world.acme_admin, AssignCase(case_id=case_id, assignee_id="sam"))


def test_every_change_leaves_an_intact_audit_chain(world: World) -> None:

    case_id = submit(world)
    world.service.comment(world.staff, AddComment(case_id=case_id, body="On it"))
    world.service.change_status(
        world.staff, ChangeStatus(case_id=case_id, status=CaseStatus.RESOLVED)
    )
    with world.storage.unit_of_work() as uow:
        entries = list(uow.audit.entries())
    assert [e.record.action for e in entries] == [
        "case.submitted",
        "case.comment_added",
        "case.status_changed",
    ]
    assert first_broken_entry(entries) is None


def test_recent_activity_hides_internal_notes_from_clients(world: World) -> None:
    case_id = submit(world)
    world.service.comment(
        world.staff, AddComment(case_id=case_id, body="secret", visibility=Visibility.INTERNAL)
    )
    client_events = world.service.recent_activity(world.acme_admin)
    assert not any(isinstance(e, CommentAdded) for e in client_events)
    assert any(isinstance(e, CommentAdded) for e in world.service.recent_activity(world.staff))
    assert world.service.recent_activity(world.globex_admin) == []


def test_status_history_is_recorded_as_events(world: World) -> None:
    case_id = submit(world)
    world.service.change_status(
        world.staff, ChangeStatus(case_id=case_id, status=CaseStatus.IN_PROGRESS)
    )
    with world.storage.unit_of_work() as uow:
        history = uow.history.for_case(case_id)
    changes = [e for e in history if isinstance(e, CaseStatusChanged)]
    assert [(c.old_status, c.new_status) for c in changes] == [
        (CaseStatus.NEW, CaseStatus.IN_PROGRESS)
    ]
