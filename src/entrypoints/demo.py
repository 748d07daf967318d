"""Demo data: two client organisations, their contacts, the firm's staff and a few months of cases.

Loaded through the repositories and the case service, exactly as real use would create them,
so the audit chain, the case histories and the outbox are all consistent. The cases' moments
are spread over the past weeks and replayed in time order through a scripted clock.

Loading twice adds nothing: organisations and people are keyed by fixed ids, cases by subject.

Outside production, every demo person can sign in with `DEMO_PASSWORD`, set through the same
invitation-acceptance use case a real person goes through; production never gets it, even with
demo data switched on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from attrs import frozen

from adapters.memory import FixedClock
from entrypoints.bootstrap import Container
from portal_core.cases.model import CaseStatus, Priority, Visibility
from portal_core.cases.service import AddComment, AssignCase, CaseService, ChangeStatus, SubmitCase
from portal_core.organisations.model import Organisation, Principal, Role, User
from portal_core.ports import CaseQuery

NORTHWIND = "demo-org-northwind"
DEMO_PASSWORD = "harbour-lane-demo-2026"  # noqa: S105 (published on purpose; never in production)
DEMO_ACTOR = "system:demo-data"
AKMI = "demo-org-akmi"


@frozen(kw_only=True)
class DemoPerson:
    id: str
    name: str
    email: str
    organisation_id: str | None
    role: Role


ORGANISATIONS: Mapping[str, str] = {
    NORTHWIND: "Northwind Legal LLP",
    AKMI: "Ακμή Σύμβουλοι Α.Ε.",
}

PEOPLE = (
    DemoPerson(
        id="demo-user-ella",
        name="Ella Hart",
        email="ella.hart@northwind.example",
        organisation_id=NORTHWIND,
        role=Role.CLIENT_ADMIN,
    ),
    DemoPerson(
        id="demo-user-raj",
        name="Raj Mehta",
        email="raj.mehta@northwind.example",
        organisation_id=NORTHWIND,
        role=Role.CLIENT_VIEWER,
    ),
    DemoPerson(
        id="demo-user-lena",
        name="Lena Fischer",
        email="accounts@northwind.example",
        organisation_id=NORTHWIND,
        role=Role.BILLING_CONTACT,
    ),
    DemoPerson(
        id="demo-user-giorgos",
        name="Γιώργος Παπαδόπουλος",
        email="g.papadopoulos@akmi.example",
        organisation_id=AKMI,
        role=Role.CLIENT_ADMIN,
    ),
    DemoPerson(
        id="demo-user-maria",
        name="Μαρία Κωνσταντίνου",
        email="logistirio@akmi.example",
        organisation_id=AKMI,
        role=Role.BILLING_CONTACT,
    ),
    DemoPerson(
        id="demo-user-nikos",
        name="Nikos Ioannou",
        email="n.ioannou@akmi.example",
        organisation_id=AKMI,
        role=Role.CLIENT_VIEWER,
    ),
    DemoPerson(
        id="demo-user-priya",
        name="Priya Shah",
        email="priya.shah@harbourlane.example",
        organisation_id=None,
        role=Role.STAFF,
    ),
    DemoPerson(
        id="demo-user-tom",
        name="Tom Okafor",
        email="tom.okafor@harbourlane.example",
        organisation_id=None,
        role=Role.ADMIN,
    ),
)

ELLA, GIORGOS, PRIYA, TOM = (
    "demo-user-ella",
    "demo-user-giorgos",
    "demo-user-priya",
    "demo-user-tom",
)


@frozen
class Comment:
    by: str
    body: str
    visibility: Visibility = Visibility.PUBLIC


@frozen
class Move:
    by: str
    to: CaseStatus


@frozen
class Assign:
    by: str
    to: str


Action = Comment | Move | Assign


@frozen(kw_only=True)
class DemoCase:
    organisation_id: str
    submitted_by: str
    subject: str
    description: str
    priority: Priority = Priority.NORMAL
    days_ago: float
    steps: tuple[tuple[float, Action], ...] = ()
    """What happened after submission: (hours after submission, action)."""


CASES = (
    DemoCase(
        organisation_id=NORTHWIND,
        submitted_by=ELLA,
        subject="Review of the supplier agreement with Contoso",
        description="Contoso sent their standard terms for the 2026 supply contract. "
        "Please review the liability and termination clauses before we sign.",
        days_ago=0.2,
    ),
    DemoCase(
        organisation_id=NORTHWIND,
        submitted_by=ELLA,
        subject="Employment tribunal claim: witness statements",
        description="A former employee has filed a claim. We need advice on the witness "
        "statements due next month.",
        priority=Priority.HIGH,
        days_ago=12,
        steps=(
            (2, Assign(by=TOM, to=PRIYA)),
            (3, Move(by=PRIYA, to=CaseStatus.IN_PROGRESS)),
            (4, Comment(by=PRIYA, body="Thank you, Ella. I will draft the statements this week.")),
            (
                5,
                Comment(
                    by=PRIYA,
                    body="Limitation date checked: the claim was filed in time.",
                    visibility=Visibility.INTERNAL,
                ),
            ),
        ),
    ),
    DemoCase(
        organisation_id=NORTHWIND,
        submitted_by=ELLA,
        subject="Lease renewal for the Leeds office",
        description="The landlord proposed new terms for the Leeds lease from July.",
        days_ago=8,
        steps=(
            (20, Move(by=PRIYA, to=CaseStatus.IN_PROGRESS)),
            (
                26,
                Comment(
                    by=PRIYA,
                    body="Could you upload the current lease and the landlord's letter?",
                ),
            ),
            (26.1, Move(by=PRIYA, to=CaseStatus.WAITING_ON_CLIENT)),
        ),
    ),
    DemoCase(
        organisation_id=NORTHWIND,
        submitted_by=ELLA,
        subject="Data subject access request from a former customer",
        description="We received a subject access request and must answer within one month.",
        days_ago=20,
        steps=(
            (4, Move(by=PRIYA, to=CaseStatus.IN_PROGRESS)),
            (
                100,
                Comment(by=PRIYA, body="The response pack is ready; it is attached to our e-mail."),
            ),
            (101, Move(by=PRIYA, to=CaseStatus.RESOLVED)),
        ),
    ),
    DemoCase(
        organisation_id=NORTHWIND,
        submitted_by=ELLA,
        subject="Trade mark registration for Northwind Traders",
        description="Please register the Northwind Traders word mark in the UK and the EU.",
        priority=Priority.LOW,
        days_ago=45,
        steps=(
            (24, Move(by=PRIYA, to=CaseStatus.IN_PROGRESS)),
            (300, Comment(by=PRIYA, body="Both marks are registered; certificates to follow.")),
            (301, Move(by=PRIYA, to=CaseStatus.RESOLVED)),
            (330, Comment(by=ELLA, body="Many thanks, all received.")),
            (331, Move(by=ELLA, to=CaseStatus.CLOSED)),
        ),
    ),
    DemoCase(
        organisation_id=NORTHWIND,
        submitted_by=ELLA,
        subject="Shareholder agreement amendments",
        description="Two new shareholders join in May; the agreement needs amending.",
        priority=Priority.HIGH,
        days_ago=5,
        steps=(
            (1, Move(by=TOM, to=CaseStatus.IN_PROGRESS)),
            (30, Comment(by=ELLA, body="The new shareholders' details are in the attached list.")),
        ),
    ),
    DemoCase(
        organisation_id=AKMI,
        submitted_by=GIORGOS,
        subject="Ετήσιος έλεγχος οικονομικών καταστάσεων 2025",
        description="Παρακαλούμε ξεκινήστε τον έλεγχο των οικονομικών καταστάσεων του 2025.",
        days_ago=15,
        steps=(
            (6, Assign(by=TOM, to=TOM)),
            (7, Move(by=TOM, to=CaseStatus.IN_PROGRESS)),
            (50, Comment(by=TOM, body="Ξεκινήσαμε τον έλεγχο· θα σας ενημερώσουμε σύντομα.")),
            (
                51,
                Comment(
                    by=TOM,
                    body="Inventory counts to be sampled on site in week 3.",
                    visibility=Visibility.INTERNAL,
                ),
            ),
        ),
    ),
    DemoCase(
        organisation_id=AKMI,
        submitted_by=GIORGOS,
        subject="Μεταβίβαση ακινήτου στη Θεσσαλονίκη",
        description="Χρειαζόμαστε υποστήριξη για τη μεταβίβαση του ακινήτου στην οδό Εγνατίας.",
        priority=Priority.URGENT,
        days_ago=1,
    ),
    DemoCase(
        organisation_id=AKMI,
        submitted_by=GIORGOS,
        subject="VAT registration in Cyprus",
        description="We are opening a branch in Limassol and need to register for VAT there.",
        days_ago=10,
        steps=(
            (5, Move(by=PRIYA, to=CaseStatus.IN_PROGRESS)),
            (30, Comment(by=PRIYA, body="Please send the branch's lease and the board minutes.")),
            (30.1, Move(by=PRIYA, to=CaseStatus.WAITING_ON_CLIENT)),
        ),
    ),
    DemoCase(
        organisation_id=AKMI,
        submitted_by=GIORGOS,
        subject="Αναθεώρηση συμβάσεων εργασίας",
        description="Αναθεώρηση των συμβάσεων εργασίας σύμφωνα με τη νέα νομοθεσία.",
        days_ago=60,
        steps=(
            (10, Move(by=PRIYA, to=CaseStatus.IN_PROGRESS)),
            (400, Move(by=PRIYA, to=CaseStatus.RESOLVED)),
            (800, Move(by=PRIYA, to=CaseStatus.CLOSED)),
        ),
    ),
)


@frozen(kw_only=True)
class DemoLoad:
    """How much a load added; all zero when the demo data was there already."""

    organisations: int
    users: int
    cases: int
    passwords: int = 0
    """Demo people given `DEMO_PASSWORD` (never in production)."""


def load_demo_data(container: Container) -> DemoLoad:
    """Add whatever part of the demo data is missing, through the core's own use cases."""
    now = container.clock.now()
    organisations, users = _add_organisations_and_people(container, since=now - timedelta(days=90))
    cases = _add_cases(container, now=now)
    passwords = 0 if container.settings.is_production else _set_demo_passwords(container)
    return DemoLoad(organisations=organisations, users=users, cases=cases, passwords=passwords)


def demo_sign_ins() -> list[str]:
    """Who to sign in as, for the serve banner of the embedded mode."""
    chosen = {
        ELLA: "client admin",
        "demo-user-lena": "billing contact",
        PRIYA: "staff",
        TOM: "admin",
    }
    return [f"{person.email} ({chosen[person.id]})" for person in PEOPLE if person.id in chosen] + [
        f"password for every demo person: {DEMO_PASSWORD}"
    ]


def _set_demo_passwords(container: Container) -> int:
    """Give each demo person without a password the demo password, by accepting the invitation
    the local sign-in issues them; anyone with a password (a second load) keeps it."""
    set_now = 0
    for person in PEOPLE:
        with container.uow() as uow:
            user = uow.users.get(person.id)
        if user is None or not user.active:
            continue
        link = container.sign_in.admit(user, actor_id=DEMO_ACTOR)
        if link is None:
            continue
        container.sign_in.accept_invitation(link.rsplit("/", 1)[1], DEMO_PASSWORD)
        set_now += 1
    return set_now


def _add_organisations_and_people(container: Container, *, since: datetime) -> tuple[int, int]:
    added_organisations = added_users = 0
    with container.uow() as uow:
        for organisation_id, name in ORGANISATIONS.items():
            if uow.organisations.get(organisation_id) is None:
                uow.organisations.add(Organisation(id=organisation_id, name=name, created_at=since))
                added_organisations += 1
        for person in PEOPLE:
            if uow.users.get(person.id) is None and uow.users.by_email(person.email) is None:
                uow.users.add(
                    User(
                        id=person.id,
                        email=person.email,
                        name=person.name,
                        organisation_id=person.organisation_id,
                        roles=frozenset({person.role}),
                        created_at=since,
                    )
                )
                added_users += 1
        uow.commit()
    return added_organisations, added_users


def _add_cases(container: Container, *, now: datetime) -> int:
    missing = [case for case in CASES if not _exists(container, case)]
    if not missing:
        return 0
    # A scripted clock, so that each case's history happens at its own moment in the past.
    clock = FixedClock(now)
    service = CaseService(
        uow=container.uow,
        clock=clock,
        ids=container.ids,
        files=container.files,
        dispatcher=container.dispatcher,
    )
    principals = {person.id: _principal(person) for person in PEOPLE}
    timeline: list[tuple[datetime, int, int, DemoCase, Action | None]] = []
    for order, case in enumerate(missing):
        submitted_at = now - timedelta(days=case.days_ago)
        timeline.append((submitted_at, order, 0, case, None))
        for step, (hours, later) in enumerate(case.steps, start=1):
            timeline.append((submitted_at + timedelta(hours=hours), order, step, case, later))
    # Replayed in time order across cases, so the audit trail reads chronologically.
    timeline.sort(key=lambda item: (item[0], item[1], item[2]))
    case_ids: dict[str, str] = {}
    for at, _, _, case, action in timeline:
        clock.set(min(at, now))
        if action is None:
            submitted = service.submit(
                principals[case.submitted_by],
                SubmitCase(
                    subject=case.subject, description=case.description, priority=case.priority
                ),
            )
            case_ids[case.subject] = submitted.id
        else:
            _perform(service, principals, case_ids[case.subject], action)
    return len(missing)


def _perform(
    service: CaseService, principals: Mapping[str, Principal], case_id: str, action: Action
) -> None:
    match action:
        case Comment(by=by, body=body, visibility=visibility):
            service.comment(
                principals[by], AddComment(case_id=case_id, body=body, visibility=visibility)
            )
        case Move(by=by, to=to):
            service.change_status(principals[by], ChangeStatus(case_id=case_id, status=to))
        case Assign(by=by, to=to):
            service.assign(principals[by], AssignCase(case_id=case_id, assignee_id=to))


def _exists(container: Container, case: DemoCase) -> bool:
    with container.uow() as uow:
        found = uow.cases.search(
            CaseQuery(organisation_id=case.organisation_id, text=case.subject, page_size=100),
            scope=None,
        )
    return any(item.subject == case.subject for item in found.items)


def _principal(person: DemoPerson) -> Principal:
    return Principal(
        user_id=person.id, organisation_id=person.organisation_id, roles=frozenset({person.role})
    )
