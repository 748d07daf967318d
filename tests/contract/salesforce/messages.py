"""Outbound messages and change events as Salesforce sends them, for the inbound tests."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from tests.contract.salesforce.emulator import ORGANIZATION_ID

OUTBOUND_FIELDS = (
    "Id",
    "CaseNumber",
    "Subject",
    "Description",
    "Status",
    "Priority",
    "AccountId",
    "LastModifiedDate",
    "LastModifiedById",
    "Portal_Case_Id__c",
)


def notification(notification_id: str, record: Mapping[str, Any], *, sobject: str = "Case") -> str:
    fields = "".join(
        f'<sf:{name} xsi:nil="true"/>'
        if record.get(name) is None
        else f"<sf:{name}>{escape(str(record[name]))}</sf:{name}>"
        for name in OUTBOUND_FIELDS
        if name in record
    )
    return (
        f"<Notification><Id>{notification_id}</Id>"
        f'<sObject xsi:type="sf:{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"{fields}</sObject></Notification>"
    )


def outbound_message(
    notifications: Sequence[str], *, organization_id: str = ORGANIZATION_ID
) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body>"
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{organization_id}</OrganizationId>"
        "<ActionId>04k000000000001AAA</ActionId>"
        '<SessionId xsi:nil="true"/>'
        "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D000000000001</EnterpriseUrl>"
        "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D000000000001</PartnerUrl>"
        + "".join(notifications)
        + "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def change_event(
    record_ids: Sequence[str],
    *,
    change_type: str = "UPDATE",
    commit_ms: int,
    fields: Mapping[str, Any] | None = None,
    transaction_key: str = "0004a1b2-0000-0000-0000-000000000001",
    sequence: int = 1,
    client: str = "SomeOtherApp",
    entity: str = "Case",
) -> dict[str, Any]:
    return {
        "schema": "IeRuaY6cbI_HsV8Rv1Mc5g",
        "payload": {
            "ChangeEventHeader": {
                "entityName": entity,
                "recordIds": list(record_ids),
                "changeType": change_type,
                "changedFields": list(fields or {}),
                "changeOrigin": f"com/salesforce/api/rest/62.0;client={client}",
                "transactionKey": transaction_key,
                "sequenceNumber": sequence,
                "commitTimestamp": commit_ms,
                "commitNumber": 10744823392011,
                "commitUser": "005000000000STAFFA",
            },
            **(fields or {}),
        },
        "event": {"replayId": 27142},
    }


def events_body(*events: Mapping[str, Any]) -> bytes:
    return json.dumps(list(events) if len(events) != 1 else events[0]).encode()
