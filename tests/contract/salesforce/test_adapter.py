"""The Salesforce adapter on the emulator: tokens, back-off, errors, paging, usage, idempotency."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.salesforce import (
    ClientCredentialsAuth,
    JwtBearerAuth,
    RetryPolicy,
    SalesforceApi,
    SalesforceAuthError,
    SalesforceCaseSystem,
    SalesforceError,
    SalesforceMapping,
    SalesforceUnavailable,
    load_mapping,
)
from portal_core.cases.model import Case, CaseStatus, Priority
from portal_core.errors import InvalidInput, NotFound
from tests.contract.salesforce.emulator import INSTANCE_URL, LOGIN_URL, SalesforceEmulator
from tests.contract.salesforce.fixtures import (
    CLIENT_ID,
    CLIENT_SECRET,
    CONSUMER_KEY,
    START,
    USERNAME,
    KeyPair,
)

ACCOUNT = "001000000000ACMEAA"


def portal_case(case_id: str = "case-1", status: CaseStatus = CaseStatus.NEW) -> Case:
    case, _ = Case.submit(
        case_id=case_id,
        organisation_id="acme",
        reference="C-000001",
        subject="VAT return",
        description="Q2 figures attached",
        priority=Priority.HIGH,
        submitted_by="ann",
        event_id=f"e-{case_id}",
        at=START,
    )
    return case


def test_a_case_is_created_with_mapped_values_and_gets_its_case_number(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator
) -> None:
    created = salesforce.create_case(portal_case(), account_id=ACCOUNT)
    assert created.number == "00001000"
    assert created.external_id.startswith("500")
    [stored] = emulator.cases()
    assert stored["Status"] == "New"
    assert stored["Priority"] == "High"
    assert stored["AccountId"] == ACCOUNT
    assert stored["Portal_Case_Id__c"] == "case-1"
    assert stored["Portal_Reference__c"] == "C-000001"
    assert stored["Origin"] == "Web"


def test_a_retried_creation_returns_the_first_case_and_overwrites_nothing(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator
) -> None:
    first = salesforce.create_case(portal_case(), account_id=ACCOUNT)
    emulator.staff_update(first.external_id, Status="Working")
    again = salesforce.create_case(portal_case(), account_id=ACCOUNT)
    assert again.external_id == first.external_id
    assert again.status is CaseStatus.IN_PROGRESS
    assert len(emulator.cases()) == 1


def test_an_expired_session_is_renewed_once_and_the_request_repeated(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator, sf_api: SalesforceApi
) -> None:
    created = salesforce.create_case(portal_case(), account_id=ACCOUNT)
    emulator.expire_sessions()
    salesforce.update_status(created.external_id, CaseStatus.RESOLVED)
    assert emulator.records["Case"][created.external_id]["Status"] == "Resolved"
    assert sf_api.tokens.requests == 2


def test_a_session_refused_twice_is_an_error_not_a_loop(
    sf_http: httpx.Client, emulator: SalesforceEmulator, key_pair: KeyPair
) -> None:
    auth = JwtBearerAuth(
        login_url=LOGIN_URL,
        consumer_key=CONSUMER_KEY,
        username=USERNAME,
        private_key=key_pair.private_pem,
    )
    original = emulator.handle

    def always_expired(request: httpx.Request) -> httpx.Response:
        response = original(request)
        if request.url.path.startswith("/services/data/"):
            return httpx.Response(
                401, json=[{"message": "Session expired", "errorCode": "INVALID_SESSION_ID"}]
            )
        return response

    client = httpx.Client(transport=httpx.MockTransport(always_expired))
    api = SalesforceApi(client, auth, sleep=lambda _: None)
    with pytest.raises(SalesforceError, match="INVALID_SESSION_ID"):
        api.request("GET", api.data_path("sobjects/Case/500000000000001AAA"))
    assert api.tokens.requests == 2


def test_an_outage_is_backed_off_then_succeeds(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator, sleeps: list[float]
) -> None:
    emulator.outage = 2
    created = salesforce.create_case(portal_case(), account_id=ACCOUNT)
    assert created.number == "00001000"
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= sleeps[1] + 1  # exponential, with jitter


def test_an_exhausted_api_limit_is_backed_off_then_succeeds(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator, sleeps: list[float]
) -> None:
    emulator.limit_exceeded = 1
    assert salesforce.fetch("500000000000099AAA") is None
    assert len(sleeps) == 1


def test_a_lasting_outage_gives_up_with_a_clear_error_for_the_outbox_to_retry(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator, sleeps: list[float]
) -> None:
    emulator.outage = 100
    with pytest.raises(SalesforceUnavailable, match=r"after 4 attempts: 503 SERVER_UNAVAILABLE"):
        salesforce.create_case(portal_case(), account_id=ACCOUNT)
    assert len(sleeps) == 3
    assert all(wait <= 8 + 1 for wait in sleeps)


def test_an_unreachable_salesforce_is_unavailable_not_a_crash(
    jwt_auth: JwtBearerAuth,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        api = SalesforceApi(client, jwt_auth, retry=RetryPolicy(attempts=2), sleep=lambda _: None)
        with pytest.raises(SalesforceUnavailable):
            SalesforceCaseSystem(api, SalesforceMapping()).fetch("500000000000001AAA")


def test_a_refused_request_is_not_retried(
    sf_api: SalesforceApi, emulator: SalesforceEmulator, sleeps: list[float]
) -> None:
    with pytest.raises(SalesforceError) as raised:
        sf_api.request("GET", sf_api.data_path("query/"), params={"q": "SELEKT nothing"})
    assert raised.value.error_code == "MALFORMED_QUERY"
    assert raised.value.status == 400
    assert sleeps == []


def test_the_api_usage_salesforce_reports_is_exposed(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator
) -> None:
    assert salesforce.api_usage is None
    salesforce.fetch("500000000000099AAA")
    salesforce.fetch("500000000000098AAA")
    usage = salesforce.api_usage
    assert usage is not None
    assert (usage.used, usage.limit) == (2, 15000)
    assert usage.remaining == 14998


def test_changed_cases_are_read_across_every_page_oldest_first(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator
) -> None:
    for number in range(8):
        emulator.staff_create(Subject=f"Case {number}", AccountId=ACCOUNT)
    pages = list(salesforce.changed_pages(START))
    assert [len(p.records) for p in pages] == [3, 3, 2]
    assert pages[0].total == 8
    subjects = [c.subject for c in salesforce.changed_since(START)]
    assert subjects == [f"Case {n}" for n in range(8)]
    later = emulator.cases()[5]["LastModifiedDate"]
    since = datetime.strptime(later, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert [c.subject for c in salesforce.changed_since(since)] == ["Case 5", "Case 6", "Case 7"]


def test_public_comments_are_published_case_comments(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator
) -> None:
    created = salesforce.create_case(portal_case(), account_id=ACCOUNT)
    salesforce.add_public_comment(created.external_id, "Figures attached.")
    [comment] = emulator.records["CaseComment"].values()
    assert comment["ParentId"] == created.external_id
    assert comment["IsPublished"] is True
    assert comment["CommentBody"] == "Figures attached."


def test_writing_to_an_unknown_case_is_not_found(salesforce: SalesforceCaseSystem) -> None:
    with pytest.raises(NotFound):
        salesforce.update_status("500000000000404AAA", CaseStatus.CLOSED)
    with pytest.raises(NotFound):
        salesforce.add_public_comment("500000000000404AAA", "Hello")
    with pytest.raises(NotFound):
        salesforce.update_status("../../sobjects/Account", CaseStatus.CLOSED)


def test_file_references_go_to_the_configured_object_once_per_file(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator
) -> None:
    created = salesforce.create_case(portal_case(), account_id=ACCOUNT)
    for _ in range(2):
        salesforce.attach_file_reference(
            created.external_id,
            file_id="att-1",
            name="figures.pdf",
            url="https://portal.example/cases/case-1/files/att-1",
            size=1234,
            content_type="application/pdf",
        )
    [reference] = emulator.records["Portal_File__c"].values()
    assert reference["Case__c"] == created.external_id
    assert reference["Url__c"].endswith("/att-1")
    assert reference["Size__c"] == 1234


def test_client_credentials_flow_gets_a_token(
    sf_http: httpx.Client, emulator: SalesforceEmulator
) -> None:
    auth = ClientCredentialsAuth(
        domain_url=INSTANCE_URL, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    token = auth.request_token(sf_http)
    assert token.instance_url == INSTANCE_URL
    assert token.issued_at.year == 2026
    assert CLIENT_SECRET not in repr(auth)


def test_a_wrong_client_secret_is_a_clear_auth_error_without_the_secret(
    sf_http: httpx.Client,
) -> None:
    auth = ClientCredentialsAuth(domain_url=INSTANCE_URL, client_id=CLIENT_ID, client_secret="nope")
    with pytest.raises(SalesforceAuthError, match="invalid_client") as raised:
        auth.request_token(sf_http)
    assert "nope" not in str(raised.value)


def test_the_jwt_assertion_names_the_app_the_user_and_the_login_url(
    jwt_auth: JwtBearerAuth, key_pair: KeyPair
) -> None:
    claims = jwt.decode(
        jwt_auth.assertion(), key_pair.public_pem, algorithms=["RS256"], audience=LOGIN_URL
    )
    assert (claims["iss"], claims["sub"]) == (CONSUMER_KEY, USERNAME)
    assert claims["exp"] <= (datetime.now(UTC) + timedelta(minutes=3, seconds=5)).timestamp()


def test_a_jwt_signed_with_another_key_is_refused(sf_http: httpx.Client) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    auth = JwtBearerAuth(
        login_url=LOGIN_URL, consumer_key=CONSUMER_KEY, username=USERNAME, private_key=pem
    )
    with pytest.raises(SalesforceAuthError, match="invalid_grant"):
        auth.request_token(sf_http)


def test_the_mapping_is_configuration_and_unknown_keys_are_refused() -> None:
    mapping = load_mapping(
        {
            "statuses": {
                "new": "Open",
                "in_progress": "In Progress",
                "waiting_on_client": "Awaiting Client",
                "resolved": "Solved",
                "closed": "Closed",
            },
            "fields": {"portal_case_id": "Portal_Id__c", "portal_reference": None},
            "file_references": None,
        }
    )
    assert mapping.status_from("Solved") is CaseStatus.RESOLVED
    assert mapping.fields.portal_case_id == "Portal_Id__c"
    assert mapping.file_references is None
    with pytest.raises(InvalidInput, match="not valid"):
        load_mapping({"statusses": {}})
    with pytest.raises(InvalidInput):
        load_mapping({"fields": {"subject": "Subject; DELETE"}})


def test_a_custom_external_id_field_is_used_for_creation(
    sf_api: SalesforceApi, emulator: SalesforceEmulator
) -> None:
    mapping = load_mapping({"fields": {"portal_case_id": "Other_Key__c"}})
    with pytest.raises(SalesforceError, match="external ID field"):
        SalesforceCaseSystem(sf_api, mapping).create_case(portal_case(), account_id=ACCOUNT)


def test_changed_details_reach_the_case_with_mapped_priority(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator
) -> None:
    created = salesforce.create_case(portal_case(), account_id=ACCOUNT)
    salesforce.update_details(
        created.external_id, subject="VAT return Q2", description="", priority=Priority.URGENT
    )
    stored = emulator.records["Case"][created.external_id]
    assert (stored["Subject"], stored["Priority"]) == ("VAT return Q2", "Critical")


def test_nearing_the_api_limit_is_logged_once(
    salesforce: SalesforceCaseSystem, emulator: SalesforceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.api_used = 13_498
    with caplog.at_level(logging.WARNING, logger="adapters.salesforce.api"):
        for _ in range(3):
            salesforce.fetch("500000000000099AAA")
    assert [r.getMessage() for r in caplog.records] == [
        "Salesforce API usage at 13500 of 15000 requests (24 hours)"
    ]
