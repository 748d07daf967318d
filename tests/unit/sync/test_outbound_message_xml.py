"""The SOAP body's XML: any DTD is refused before a tree is built, however it is written."""

from __future__ import annotations

from xml.parsers import expat

import pytest
from defusedxml import DTDForbidden

from adapters.salesforce.outbound_messages import parse_without_dtd

ENVELOPE = '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>'


def test_a_document_without_a_dtd_becomes_its_tree() -> None:
    root = parse_without_dtd(ENVELOPE.encode())
    assert root.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    assert [child.tag for child in root] == ["{http://schemas.xmlsoap.org/soap/envelope/}Body"]


@pytest.mark.parametrize(
    "body",
    [
        # An external DTD with no internal subset: nothing expands, yet it is refused.
        f'<!DOCTYPE e:Envelope SYSTEM "http://attacker.example/x.dtd">{ENVELOPE}'.encode(),
        f'<!DOCTYPE e:Envelope PUBLIC "-//X//Y" "file:///etc/passwd">{ENVELOPE}'.encode(),
        f'<!DOCTYPE x [<!ENTITY a "b">]>{ENVELOPE}'.encode(),
        # The same declaration in UTF-16, which a byte search for "<!DOCTYPE" would miss.
        f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]>{ENVELOPE}'.encode(
            "utf-16"
        ),
    ],
)
def test_any_doctype_is_refused(body: bytes) -> None:
    with pytest.raises(DTDForbidden):
        parse_without_dtd(body)


def test_an_entity_that_no_dtd_declares_is_not_well_formed() -> None:
    body = ENVELOPE.replace("<e:Body/>", "<e:Body>&xxe;</e:Body>").encode()
    with pytest.raises(expat.ExpatError, match="undefined entity"):
        parse_without_dtd(body)
