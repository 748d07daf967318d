"""Invoice and credit-note PDFs, read back with pypdf: what the client sees is what was issued."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from datetime import date
from decimal import Decimal

import pytest
from attrs import evolve
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from adapters.pdf import Fpdf2InvoiceRenderer
from adapters.pdf.renderer import CORE_CHARACTERS, CORE_FONT, EXTENDED_FONT, font_for
from portal_core.billing.document import InvoiceDocument, InvoiceRenderer
from portal_core.errors import InvalidInput
from tests.contract.pdf.documents import (
    REVERSE_CHARGE,
    STAFF,
    credit_note,
    invoice,
)

RENDERER: InvoiceRenderer = Fpdf2InvoiceRenderer()


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def text_of(pdf: bytes) -> str:
    return "\n".join(pages_of(pdf))


@pytest.fixture(scope="module")
def small_invoice() -> InvoiceDocument:
    return invoice(
        entries=6,
        lines=2,
        tax_rate=Decimal(0),
        tax_note=REVERSE_CHARGE,
        amount_paid=Decimal("100.00"),
    )


@pytest.fixture(scope="module")
def small_invoice_text(small_invoice: InvoiceDocument) -> str:
    return text_of(RENDERER.render(small_invoice))


@pytest.fixture(scope="module")
def long_invoice_pages() -> list[str]:
    return pages_of(RENDERER.render(invoice(entries=200, lines=4)))


def test_invoice_prints_its_number_dates_and_both_parties(
    small_invoice: InvoiceDocument, small_invoice_text: str
) -> None:
    text = small_invoice_text
    assert "Invoice" in text
    assert "Number: INV-2026-0042" in text
    assert "Issue date: 2026-11-01" in text
    assert "Due date: 2026-12-01" in text
    for party in (small_invoice.firm, small_invoice.client):
        assert party.name in text
        for detail in party.address_lines:
            assert detail in text
        assert f"Tax ID: {party.tax_id}" in text
        assert str(party.email) in text


def test_invoice_prints_every_line_amount_and_every_total(
    small_invoice: InvoiceDocument, small_invoice_text: str
) -> None:
    text = small_invoice_text
    for line in small_invoice.lines:
        assert line.description in text
        assert small_invoice.format_amount(line.amount) in text
    assert small_invoice.discount is not None
    assert f"{small_invoice.discount.description} {small_invoice.discount.amount}" in text
    assert f"Net €{small_invoice.format_amount(small_invoice.net)}" in text
    assert f"Total €{small_invoice.format_amount(small_invoice.gross)}" in text
    assert "Amount paid -€100.00" in text
    assert f"Balance due €{small_invoice.format_amount(small_invoice.gross - 100)}" in text


def test_printed_totals_are_the_sums_of_the_printed_lines(small_invoice_text: str) -> None:
    # Read the figures back from the PDF itself, not from the document that made it.
    line_amounts = [
        Decimal(amount.replace(",", ""))
        for amount in re.findall(
            r"^Legal advice on case CASE-\d+ [\d.,]+ [\d.,]+ ([\d.,]+)$",
            small_invoice_text,
            re.MULTILINE,
        )
    ]
    discount = Decimal(re.findall(r"^Discount 10% (-[\d.,]+)$", small_invoice_text, re.M)[0])
    printed = {
        label: Decimal(amount.replace(",", ""))
        for label, amount in re.findall(
            r"^(Net|Total|Amount paid|Balance due) -?€([\d.,]+)$", small_invoice_text, re.M
        )
    }
    assert len(line_amounts) == 2
    assert printed["Net"] == sum(line_amounts) + discount
    assert printed["Total"] == printed["Net"]  # reverse charge: no VAT
    assert printed["Balance due"] == printed["Total"] - printed["Amount paid"]


def test_tax_prints_with_its_rate_base_and_note(small_invoice_text: str) -> None:
    assert re.search(r"^VAT 0% on €[\d,]+\.\d\d €0\.00$", small_invoice_text, re.M)
    assert REVERSE_CHARGE in small_invoice_text


def test_time_entries_print_beneath_their_line_with_names_in_greek_and_cyrillic(
    small_invoice_text: str,
) -> None:
    for name in STAFF:
        assert name in small_invoice_text
    assert "Σωκράτης Παπαδόπουλος" in small_invoice_text
    assert "Анна Каренина" in small_invoice_text
    first_line = small_invoice_text.index("Legal advice on case CASE-0001")
    second_line = small_invoice_text.index("Legal advice on case CASE-0002")
    first_entry = small_invoice_text.index("2026-10-01 Σωκράτης Παπαδόπουλος")
    assert first_line < first_entry < second_line
    assert "(50 min)" in small_invoice_text


def test_credit_note_names_the_invoice_it_credits_and_its_totals() -> None:
    document = credit_note()
    text = text_of(RENDERER.render(document))
    assert "Credit note" in text
    assert "Number: CN-2026-0007" in text
    assert "Credits invoice: INV-2026-0042" in text
    assert "Due date" not in text
    assert "Credit to" in text
    assert f"Total credited €{document.format_amount(document.gross)}" in text


def test_a_long_invoice_repeats_the_table_heading_and_numbers_its_pages(
    long_invoice_pages: list[str],
) -> None:
    count = len(long_invoice_pages)
    assert count >= 3
    for number, page in enumerate(long_invoice_pages, start=1):
        assert "Description Hours Rate (EUR) Amount (EUR)" in page
        assert "INV-2026-0042" in page
        assert f"Page {number} of {count}" in page
    assert "Total €" in long_invoice_pages[-1]
    assert "Total €" not in long_invoice_pages[0]


def test_a_long_invoice_prints_every_entry_once(long_invoice_pages: list[str]) -> None:
    text = "\n".join(long_invoice_pages)
    for clause in range(1, 51):
        assert len(re.findall(rf"Drafting clause {clause} of the share", text)) == 4


def test_the_same_document_always_gives_the_same_bytes(small_invoice: InvoiceDocument) -> None:
    first = RENDERER.render(small_invoice)
    second = Fpdf2InvoiceRenderer().render(evolve(small_invoice))
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


def test_a_different_document_gives_different_bytes(small_invoice: InvoiceDocument) -> None:
    renumbered = evolve(small_invoice, number="INV-2026-0043")
    assert RENDERER.render(renumbered) != RENDERER.render(small_invoice)


def test_the_pdf_is_dated_by_its_issue_date_not_by_when_it_was_rendered(
    small_invoice: InvoiceDocument,
) -> None:
    metadata = PdfReader(io.BytesIO(RENDERER.render(small_invoice))).metadata
    assert metadata is not None
    assert metadata.creation_date is not None
    assert metadata.creation_date.date() == date(2026, 11, 1)
    assert metadata.modification_date is None
    assert metadata.title == "Invoice INV-2026-0042"
    assert metadata.producer == "client-portal"


def test_an_inconsistent_document_is_refused(small_invoice: InvoiceDocument) -> None:
    wrong_total = evolve(small_invoice, gross=small_invoice.gross + Decimal("0.01"))
    with pytest.raises(InvalidInput, match="total"):
        RENDERER.render(wrong_total)


@pytest.mark.parametrize(
    ("currency", "minor_units", "amount", "printed"),
    [
        ("JPY", 0, Decimal(1167), "¥1,167"),
        ("BHD", 3, Decimal("2360.125"), "BHD 2,360.125"),
        ("GBP", 2, Decimal("1234567.80"), "£1,234,567.80"),
    ],
)
def test_amounts_print_in_the_minor_units_of_their_currency(
    currency: str, minor_units: int, amount: Decimal, printed: str
) -> None:
    base = invoice(entries=1, lines=1, discount_percent=None, tax_rate=Decimal(0))
    line = evolve(base.lines[0], amount=amount, rate=None, billed_minutes=None, entries=())
    document = evolve(
        base,
        currency=currency,
        minor_units=minor_units,
        lines=(line,),
        net=amount,
        tax_lines=(evolve(base.tax_lines[0], base=amount, amount=Decimal(0)),),
        gross=amount,
    )
    text = text_of(RENDERER.render(document))
    assert f"Total {printed}" in text
    assert f"Amount ({currency})" in text


def test_an_accent_typed_as_two_code_points_prints_as_one_letter() -> None:
    base = invoice(entries=1, lines=1)
    decomposed = unicodedata.normalize("NFD", "Zoë Łukasiewicz-Ørsted, Αθήνα, Йошкар-Ола")
    document = evolve(base, client=evolve(base.client, name=decomposed))
    text = text_of(RENDERER.render(document))
    assert unicodedata.normalize("NFC", decomposed) in text


def test_text_that_looks_like_a_page_count_placeholder_prints_as_written() -> None:
    base = invoice(entries=1, lines=1)
    line = evolve(base.lines[0], description="Advice on clause {nb} and {nb}")
    text = text_of(RENDERER.render(evolve(base, lines=(line,))))
    assert "Advice on clause {nb} and {nb}" in text
    assert "Page 1 of 1" in text


def test_line_breaks_in_a_description_start_new_lines_and_tabs_print_as_spaces() -> None:
    base = invoice(entries=1, lines=1)
    line = evolve(base.lines[0], description="Due diligence\r\nData room\treview")
    text = text_of(RENDERER.render(evolve(base, lines=(line,))))
    assert "Due diligence" in text
    assert "Data room review" in text
    assert "\t" not in text


def test_the_embedded_font_is_a_subset_whose_glyph_bounds_are_right(
    small_invoice: InvoiceDocument,
) -> None:
    # The renderer tells fontTools not to re-measure glyphs while subsetting: prove the
    # bounds it embeds are still the true ones.
    reader = PdfReader(io.BytesIO(RENDERER.render(small_invoice)))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert len(fonts) == 1
    descendant = next(iter(fonts.values())).get_object()["/DescendantFonts"][0].get_object()
    embedded = descendant["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
    font = TTFont(io.BytesIO(embedded))
    glyphs = font["glyf"]
    outlined = [name for name in font.getGlyphOrder() if glyphs[name].numberOfContours != 0]
    assert 50 < len(outlined) < 400  # a subset: what the invoice prints, not the whole font
    for name in outlined:
        glyph = glyphs[name]
        stored = (glyph.xMin, glyph.yMin, glyph.xMax, glyph.yMax)
        glyph.recalcBounds(glyphs)
        assert stored == (glyph.xMin, glyph.yMin, glyph.xMax, glyph.yMax), name


def test_common_scripts_print_with_the_core_font_and_others_with_the_extended_one(
    small_invoice: InvoiceDocument,
) -> None:
    assert font_for(small_invoice) == CORE_FONT  # Greek, Cyrillic, Polish, Danish, €
    client = evolve(small_invoice.client, name="Công ty TNHH Nguyễn Thị Minh Khai")
    vietnamese = evolve(small_invoice, client=client)
    assert font_for(vietnamese) == EXTENDED_FONT
    assert "Công ty TNHH Nguyễn Thị Minh Khai" in text_of(RENDERER.render(vietnamese))


def test_the_core_font_has_every_character_the_renderer_counts_on_it_for() -> None:
    with TTFont(CORE_FONT) as core, TTFont(EXTENDED_FONT) as extended:
        in_core = set(core.getBestCmap())
        in_extended = set(extended.getBestCmap())
    counted_on = {ord(character) for character in CORE_CHARACTERS if character != "\n"}
    assert in_core <= in_extended
    # Both are cut from the same DejaVu Sans: what it lacks, neither has.
    assert in_core == counted_on & in_extended
