"""The worker with Salesforce as the case system (on the Salesforce emulator): a request
submitted in the portal is created there, linked to its number, and its file is referenced."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.memory import FixedClock, InMemoryFileStore, InMemoryStorage, SequentialIds
from adapters.salesforce import (
    ChangeEventParser,
    OutboundMessageParser,
    SalesforceCaseSystem,
    SalesforceWiring,
)
from entrypoints.bootstrap import bootstrap
from entrypoints.worker import Worker
from portal_core.cases.files import upload_prefix
from portal_core.cases.model import CaseStatus
from portal_core.cases.service import AttachFiles, ChangeStatus, SubmitCase, UploadedFile
from portal_core.organisations.model import Organisation, Role, User
from tests.contract.salesforce.emulator import ORGANIZATION_ID, SalesforceEmulator
from tests.contract.salesforce.fixtures import (  # noqa: F401 (pytest fixtures)
    START,
    emulator,
    jwt_auth,
    key_pair,
    salesforce,
    sf_api,
    sf_clock,
    sf_http,
    sleeps,
)
from tests.e2e.conftest import settings_for

ACME = "001000000000ACMEAA"


def test_a_portal_request_reaches_salesforce_with_its_file_reference_and_status(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    case_system: SalesforceCaseSystem = request.getfixturevalue("salesforce")
    emulated: SalesforceEmulator = request.getfixturevalue("emulator")
    storage = InMemoryStorage()
    clock = FixedClock(START)
    ann = User(
        id="ann",
        email="ann@acme.example",
        name="Ann",
        organisation_id="acme",
        roles=frozenset({Role.CLIENT_ADMIN}),
        created_at=START,
    )
    with storage.unit_of_work() as uow:
        uow.organisations.add(
            Organisation(id="acme", name="Acme", external_account_id=ACME, created_at=START)
        )
        uow.users.add(ann)
        uow.commit()
    files = InMemoryFileStore(clock)
    container = bootstrap(
        settings_for(tmp_path),
        clock=clock,
        ids=SequentialIds(),
        uow=storage.unit_of_work,
        files=files,
        salesforce=SalesforceWiring(
            case_system=case_system,
            outbound_messages=OutboundMessageParser(
                organization_id=ORGANIZATION_ID, codec=case_system.codec
            ),
            change_events=ChangeEventParser(codec=case_system.codec),
        ),
    )
    worker = Worker(container, draw=lambda: 0.0)
    case = container.cases.submit(
        ann.as_principal(), SubmitCase(subject="Payroll question", description="New hire")
    )
    worker.deliver()
    linked = container.cases.get_case(ann.as_principal(), case.id).case
    assert linked.external_id in emulated.records["Case"]
    assert linked.number == emulated.records["Case"][linked.external_id]["CaseNumber"]

    key = f"{upload_prefix('acme')}payslip-upload"
    files.write(key, [b"%PDF-1.4 payslip"], "application/pdf")
    with_file = container.cases.attach_files(
        ann.as_principal(),
        AttachFiles(
            case_id=case.id,
            files=(UploadedFile(storage_key=key, display_name="payslip.pdf"),),
        ),
    )
    container.cases.change_status(
        ann.as_principal(), ChangeStatus(case_id=with_file.id, status=CaseStatus.CLOSED)
    )
    worker.deliver()
    assert emulated.records["Case"][linked.external_id]["Status"] == "Closed"
    (reference,) = emulated.records["Portal_File__c"].values()
    assert reference["Case__c"] == linked.external_id
    assert reference["Url__c"].startswith(f"http://127.0.0.1:8000/cases/{case.id}/files/")
