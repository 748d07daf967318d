"""Salesforce outbound messages (SOAP 1.1): parsing, the Ack, and faults.

The parser refuses any DOCTYPE, entity or external reference without expanding it (a SOAP
message may carry no DTD at all), checks the OrganizationId against the configured org,
accepts 1 to 100 notifications of `sf:Case` records, and translates each into an
`InboundCaseChange` through the field mapping.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.parsers import expat
from xml.sax.saxutils import escape

from attrs import frozen
from defusedxml import DefusedXmlException, DTDForbidden

from adapters.salesforce.mapping import CaseRecordCodec
from portal_core.errors import InvalidInput
from portal_core.sync import SOURCE_OUTBOUND_MESSAGE, InboundCaseChange

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
MAX_BODY_BYTES = 4_000_000
"""100 notifications of a few kilobytes each fit with room to spare; more is not Salesforce."""

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body>"
    "</soapenv:Envelope>"
).encode()


def fault(message: str, *, client_error: bool) -> bytes:
    """A SOAP 1.1 fault: `Client` when the message itself is wrong, `Server` when we are."""
    code = "soapenv:Client" if client_error else "soapenv:Server"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring>"
        "</soapenv:Fault></soapenv:Body>"
        "</soapenv:Envelope>"
    ).encode()


class MalformedMessage(InvalidInput):
    """The message is not a well-formed outbound message we can read; retrying will not help."""

    code = "malformed_message"


class ForeignOrganisation(InvalidInput):
    """The message comes from another Salesforce org than the configured one."""

    code = "foreign_organisation"


@frozen(kw_only=True)
class OutboundMessage:
    organization_id: str
    action_id: str | None
    changes: tuple[InboundCaseChange, ...]


def _refuse_dtd(name: str | None, system_id: str | None, public_id: str | None, *_: object) -> None:
    raise DTDForbidden(name, system_id, public_id)


def parse_without_dtd(body: bytes) -> ET.Element:
    """The element tree of `body`, refused (DTDForbidden) if it declares any DOCTYPE.

    SOAP 1.1 forbids a DTD in a message, and a document without one cannot declare an entity,
    so it can neither expand an XML bomb nor reach an external resource; undeclared entity
    references are not well-formed. The check is a first pass of expat (in C, with only the
    DOCTYPE hook set, so it costs little); the tree is then built by ElementTree's C parser over
    the same expat. defusedxml's parser, which this replaces, refuses the same documents but
    builds the tree in pure Python: 1.7 - 4.9 ms for a message of 100 notifications against
    1.0 - 1.7 ms for the check and the parse here (measured 2026-11-22).
    """
    screen = expat.ParserCreate()
    screen.StartDoctypeDeclHandler = _refuse_dtd
    screen.Parse(body, True)
    return ET.fromstring(body)  # noqa: S314 - the pass above refused any DTD


class OutboundMessageParser:
    def __init__(self, *, organization_id: str, codec: CaseRecordCodec) -> None:
        if len(organization_id) not in (15, 18):
            raise ValueError("A Salesforce organisation id has 15 or 18 characters.")
        self._organization_id = organization_id
        self._codec = codec

    def parse(self, body: bytes) -> OutboundMessage:
        if len(body) > MAX_BODY_BYTES:
            raise MalformedMessage("The message is larger than any outbound message can be.")
        try:
            root = parse_without_dtd(body)
        except DefusedXmlException as exc:
            raise MalformedMessage(
                "The message holds a DOCTYPE or entity declaration, which is refused."
            ) from exc
        except (ET.ParseError, expat.ExpatError) as exc:
            raise MalformedMessage(f"The message is not well-formed XML ({exc}).") from exc
        if root.tag != f"{{{SOAP_NS}}}Envelope":
            raise MalformedMessage("The message is not a SOAP 1.1 envelope.")
        notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
        if notifications is None:
            raise MalformedMessage("The SOAP body holds no outbound-message notifications.")
        organization_id = _text(notifications, "OrganizationId")
        if organization_id is None:
            raise MalformedMessage("The message names no OrganizationId.")
        if organization_id[:15] != self._organization_id[:15]:
            raise ForeignOrganisation(
                f"Organisation {organization_id} is not the Salesforce org this portal serves."
            )
        items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
        if not 1 <= len(items) <= MAX_NOTIFICATIONS:
            raise MalformedMessage(
                f"An outbound message holds 1 to {MAX_NOTIFICATIONS} notifications, "
                f"not {len(items)}."
            )
        return OutboundMessage(
            organization_id=organization_id,
            action_id=_text(notifications, "ActionId"),
            changes=tuple(self._change(item) for item in items),
        )

    def _change(self, notification: ET.Element) -> InboundCaseChange:
        notification_id = _text(notification, "Id")
        if notification_id is None:
            raise MalformedMessage("A notification has no Id.")
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            raise MalformedMessage(f"Notification {notification_id} carries no sObject.")
        object_type = sobject.get(f"{{{XSI_NS}}}type", "")
        if object_type.rpartition(":")[2] != "Case":
            raise MalformedMessage(
                f"Notification {notification_id} carries a {object_type or 'untyped'} record; "
                "only Case records are accepted."
            )
        fields: dict[str, str | None] = {}
        for element in sobject:
            namespace, _, name = element.tag[1:].partition("}")
            if namespace != SOBJECT_NS:
                continue
            nil = element.get(f"{{{XSI_NS}}}nil") == "true"
            fields[name] = None if nil else (element.text or "")
        try:
            record = self._codec.record(fields)
            names = self._codec.mapping.fields
            if record.last_modified is None:
                raise MalformedMessage(
                    f"Notification {notification_id} lacks {names.last_modified}: add it to the "
                    "outbound message's fields (it orders the record's versions)."
                )
            return InboundCaseChange(
                source=SOURCE_OUTBOUND_MESSAGE,
                event_id=notification_id,
                external_id=record.id,
                modified_at=record.last_modified,
                account_id=record.account_id,
                number=record.number,
                subject=record.subject,
                description=record.description,
                status=self._codec.mapping.status_from(record.status) if record.status else None,
                priority=(
                    self._codec.mapping.priority_from(record.priority) if record.priority else None
                ),
                portal_case_id=record.portal_case_id,
                from_portal=self._codec.is_portal_user(record.last_modified_by),
            )
        except MalformedMessage:
            raise
        except InvalidInput as exc:
            raise MalformedMessage(f"Notification {notification_id}: {exc.message}") from exc


def _text(parent: ET.Element, name: str) -> str | None:
    element = parent.find(f"{{{OUTBOUND_NS}}}{name}")
    if element is None or element.get(f"{{{XSI_NS}}}nil") == "true":
        return None
    return (element.text or "").strip() or None
