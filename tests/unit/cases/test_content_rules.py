"""Which files are accepted, judged by content; how download names are offered (RFC 6266)."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_core.cases.content import (
    ALLOWED_TYPES,
    HEAD_SIZE,
    ContentFamily,
    Refusal,
    check_upload,
    detect_family,
    format_size,
    resolve_declared_type,
    served_content_type,
)
from portal_core.cases.files import (
    ascii_fallback,
    clean_display_name,
    content_disposition,
    incoming_key,
    upload_id_of,
)

MAX = 1_000_000
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

SAMPLES: dict[str, bytes] = {
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01",
    "image/gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00",
    "application/zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00readme.txt",
    DOCX: b"PK\x03\x04\x14\x00\x06\x00\x08\x00[Content_Types].xml",
    "text/plain": "2026-03-02 09:00:01 ERROR Überlauf in Modul 7\n".encode(),
    "text/csv": b"date,amount\n2026-03-02,12.50\n",
    "application/json": b'  {"retries": 3, "hosts": ["a", "b"]}',
    "application/xml": b'<?xml version="1.0"?>\n<configuration><add key="x"/></configuration>',
}


def verdict_for(declared: str, content: bytes, *, size: int | None = None, max_size: int = MAX):
    return check_upload(
        declared, len(content) if size is None else size, content[:HEAD_SIZE], max_size
    )


@pytest.mark.parametrize(("declared", "content"), SAMPLES.items())
def test_each_allowed_type_is_accepted_when_its_content_matches(declared: str, content: bytes):
    verdict = verdict_for(declared, content)
    assert verdict.accepted, verdict.message
    assert verdict.content_type == declared


def test_every_allowed_type_has_a_sample_here():
    assert set(SAMPLES) <= set(ALLOWED_TYPES)
    missing = {t for t in ALLOWED_TYPES if t not in SAMPLES}
    # The other Office types share the docx rule (a ZIP); markdown shares plain text's.
    assert missing == {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "text/markdown",
    }


@pytest.mark.parametrize(
    ("declared", "content"),
    [
        ("application/pdf", b"<html><body><script>alert(1)</script></body></html>"),
        ("image/png", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
        ("image/jpeg", b"GIF89a\x01\x00"),
        ("application/pdf", b"\x89PNG\r\n\x1a\n"),
        ("application/zip", b"%PDF-1.4"),
        (DOCX, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 legacy word with macros"),
        ("application/json", b"name,value\n"),
        ("text/plain", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"),
        ("text/csv", "Windows UTF-16".encode("utf-16")),
        ("application/xml", b"just words"),
    ],
)
def test_content_that_is_not_its_declared_type_is_refused_and_quarantined(
    declared: str, content: bytes
):
    verdict = verdict_for(declared, content)
    assert not verdict.accepted
    assert verdict.refusal in (Refusal.CONTENT_MISMATCH, Refusal.ACTIVE_CONTENT)
    assert verdict.refusal is not None
    assert verdict.refusal.quarantines


def test_a_pdf_must_start_with_its_signature_not_merely_contain_it():
    polyglot = b"<html><!-- %PDF-1.4 --><script>steal()</script></html>"
    assert verdict_for("application/pdf", polyglot).refusal is Refusal.ACTIVE_CONTENT
    late_signature = b"\n\n  %PDF-1.4\n"
    assert verdict_for("application/pdf", late_signature).refusal is Refusal.CONTENT_MISMATCH


@pytest.mark.parametrize(
    ("declared", "content"),
    [
        ("application/pdf", b"%PDF-1.4\n<html><script>document.cookie</script>"),
        ("image/gif", b"GIF89a/*\x00\x00*/=1;<script>alert(1)</script>"),
        ("image/png", b"\x89PNG\r\n\x1a\n<iframe src=x>"),
        ("application/zip", b"PK\x03\x04<!DOCTYPE html><p>hi"),
    ],
)
def test_a_polyglot_that_is_also_a_web_page_is_refused(declared: str, content: bytes):
    assert verdict_for(declared, content).refusal is Refusal.ACTIVE_CONTENT


@pytest.mark.parametrize(
    ("declared", "content"),
    [
        ("text/plain", b"<!DOCTYPE html><html><body>hello</body></html>"),
        ("text/plain", b"\xef\xbb\xbf  \n<script>alert(1)</script>"),
        ("text/csv", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("application/json", b"<html>{}</html>"),
        ("application/xml", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("application/xml", b'<?xml version="1.0"?><?xml-stylesheet href="x.xsl"?><a/>'),
        ("application/xml", b'<root><x:div xmlns:x="http://www.w3.org/1999/xhtml"/></root>'),
    ],
)
def test_web_pages_and_svg_are_refused_whatever_text_type_they_claim(declared: str, content: bytes):
    assert verdict_for(declared, content).refusal is Refusal.ACTIVE_CONTENT


@pytest.mark.parametrize(
    ("declared", "content"),
    [
        ("application/xml", b'<?xml version="1.0"?><project><target><script language="js"/>'),
        ("application/xml", b'<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body/>'),
        ("application/xml", b"<!-- logging --><configuration><appender/></configuration>"),
        ("text/plain", b'<?xml version="1.0"?>\n<!-- web.config --><configuration/>'),
    ],
)
def test_xml_that_only_shares_names_with_web_markup_is_accepted(declared: str, content: bytes):
    assert verdict_for(declared, content).accepted


def test_a_log_that_merely_quotes_markup_is_accepted():
    log = b'10.0.0.7 - - [02/Mar/2026] "GET /?q=<script>alert(1)</script> HTTP/1.1" 400\n'
    assert verdict_for("text/plain", log).accepted


def test_an_empty_file_is_refused_and_not_quarantined():
    verdict = verdict_for("text/plain", b"")
    assert verdict.refusal is Refusal.EMPTY
    assert not Refusal.EMPTY.quarantines


def test_one_byte_over_the_limit_is_refused_with_the_limit_in_the_message():
    content = b"%PDF-1.7\n"
    assert verdict_for("application/pdf", content, size=25_000_000, max_size=25_000_000).accepted
    verdict = verdict_for("application/pdf", content, size=25_000_001, max_size=25_000_000)
    assert verdict.refusal is Refusal.TOO_LARGE
    assert "25 MB" in verdict.message
    assert not Refusal.TOO_LARGE.quarantines


@pytest.mark.parametrize(
    "declared", ["text/html", "image/svg+xml", "application/x-msdownload", "application/javascript"]
)
def test_types_outside_the_allow_list_are_refused(declared: str):
    assert verdict_for(declared, b"anything").refusal is Refusal.TYPE_NOT_ALLOWED
    assert resolve_declared_type(declared, "file.txt").refusal is Refusal.TYPE_NOT_ALLOWED


@pytest.mark.parametrize(
    ("declared", "name", "expected"),
    [
        ("", "server.log", "text/plain"),
        ("application/octet-stream", "settings.YAML", "text/plain"),
        ("IMAGE/JPG", "photo.jpeg", "image/jpeg"),
        ("text/xml; charset=utf-8", "web.config", "application/xml"),
        ("application/x-zip-compressed", "bundle.zip", "application/zip"),
        ("", "Report.DOCX", DOCX),
    ],
)
def test_the_declared_type_comes_from_the_browser_or_else_the_extension(
    declared: str, name: str, expected: str
):
    assert resolve_declared_type(declared, name).content_type == expected


@pytest.mark.parametrize("name", ["no-extension", "payload.exe", "page.html", "image.svg"])
def test_an_unknown_type_with_an_unknown_extension_is_refused(name: str):
    assert resolve_declared_type("", name).refusal is Refusal.TYPE_NOT_ALLOWED


def test_text_cut_mid_character_by_the_head_limit_is_still_text():
    text = ("é" * HEAD_SIZE).encode()
    head = text[: HEAD_SIZE - 1]  # ends inside a two-byte character
    assert check_upload("text/plain", len(text), head, len(text)).accepted
    assert detect_family(head, truncated=True) is ContentFamily.TEXT
    assert not check_upload("text/plain", len(head), head, len(text)).accepted


@given(st.text(min_size=1).filter(lambda s: "\x00" not in s and "<" not in s))
def test_any_utf8_text_without_nul_is_accepted_as_plain_text(text: str):
    content = text.encode()
    assert verdict_for("text/plain", content, max_size=len(content)).accepted


@given(st.binary(min_size=1, max_size=64))
def test_the_verdict_is_accepted_exactly_when_it_names_a_type(content: bytes):
    for declared in ALLOWED_TYPES:
        verdict = verdict_for(declared, content)
        assert verdict.accepted == (verdict.content_type is not None)
        assert verdict.accepted == (verdict.message == "")


def test_detection_recognises_each_signature():
    assert detect_family(SAMPLES["application/pdf"]) is ContentFamily.PDF
    assert detect_family(SAMPLES["image/webp"]) is ContentFamily.WEBP
    assert detect_family(SAMPLES[DOCX]) is ContentFamily.ZIP
    assert detect_family(b"\x00\x01\x02") is None


def test_downloads_are_served_with_a_fixed_type():
    assert served_content_type("text/csv") == "text/csv; charset=utf-8"
    assert served_content_type("image/png") == "image/png"
    assert served_content_type("text/html") == "application/octet-stream"


def test_sizes_read_like_a_browser_shows_them():
    assert [format_size(n) for n in (300, 1_500, 25_000_000, 2_000_000_000)] == [
        "300 bytes",
        "1.5 kB",
        "25 MB",
        "2 GB",
    ]


# --- names and RFC 6266 ----------------------------------------------------------------------

DISPOSITION = re.compile(
    r"^attachment; filename=\"([ -~]*)\"; filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+)$"
)


@pytest.mark.parametrize(
    ("name", "fallback", "full"),
    [
        ("report.pdf", "report.pdf", "report.pdf"),
        ("Résumé 2026.pdf", "Resume 2026.pdf", "Résumé 2026.pdf"),
        ("請求書.pdf", "___.pdf", "請求書.pdf"),
        ('say "hi".txt', "say _hi_.txt", 'say "hi".txt'),
        ("C:\\Users\\me\\notes.txt", "notes.txt", "notes.txt"),
        ("../../etc/passwd", "passwd", "passwd"),
        ("invoice\u202egnp.exe", "invoicegnp.exe", "invoicegnp.exe"),
        ("a\x00b\r\nc.log", "abc.log", "abc.log"),
        ("100%.txt", "100_.txt", "100%.txt"),
    ],
)
def test_download_names_are_offered_in_rfc_6266_form(name: str, fallback: str, full: str):
    header = content_disposition(name)
    match = DISPOSITION.match(header)
    assert match is not None, header
    assert match.group(1) == fallback
    assert unquote(match.group(2), encoding="utf-8", errors="strict") == full


@given(st.text(max_size=300))
def test_every_name_gives_a_well_formed_header_that_round_trips(name: str):
    header = content_disposition(name)
    match = DISPOSITION.match(header)
    assert match is not None
    assert unquote(match.group(2)) == clean_display_name(name)
    assert '"' not in match.group(1)
    assert "\\" not in match.group(1)


def test_a_ten_kilobyte_name_is_shortened_keeping_its_extension():
    cleaned = clean_display_name("x" * 10_000 + ".pdf")
    assert len(cleaned) <= 180
    assert cleaned.endswith(".pdf")


def test_ascii_fallback_is_never_empty():
    assert ascii_fallback("請求書") == "___"
    assert ascii_fallback("") == "file"


@pytest.mark.parametrize("upload_id", ["", "a/b", "..", ".", "a b", "ü", "-x", "x" * 129, "a\nb"])
def test_an_upload_id_that_could_reach_another_key_is_not_an_upload_id(upload_id: str):
    assert upload_id_of(incoming_key("acme", upload_id), "incoming/org/acme/") is None


def test_a_plain_upload_id_is_read_back_from_its_key():
    assert upload_id_of(incoming_key("acme", "u-1"), "incoming/org/acme/") == "u-1"
