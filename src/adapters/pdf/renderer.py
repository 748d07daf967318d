"""Invoice and credit-note PDFs with fpdf2.

The layout only formats what the document carries; it never computes an amount. Output is
deterministic: the creation date is the issue date, the producer is fixed, and fpdf2 derives
the file identifier from the content, so the same document always gives the same bytes and its
SHA-256 can be kept as proof of what was issued.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path

from attrs import frozen
from fpdf import FPDF
from fpdf.enums import Align, TextMode, XPos, YPos
from fpdf.fonts import TTFFont

from portal_core.billing.document import (
    DocumentKind,
    DocumentLine,
    InvoiceDocument,
    Party,
    PrintedTimeEntry,
    check_adds_up,
    decimal_places,
)

FONT_DIR = Path(__file__).with_name("fonts")
CORE_FONT = FONT_DIR / "DejaVuSans-core.ttf"
"""Latin-1, Latin Extended-A, modern Greek, Russian and Ukrainian Cyrillic: most invoices."""
EXTENDED_FONT = FONT_DIR / "DejaVuSans-extended.ttf"
"""Adds Latin Extended-B and Additional (Vietnamese, ...), accents, all of Cyrillic."""
FAMILY = "DejaVuSans"
# The characters of the core font, as it was cut (see fonts/README.md). A document needing no
# other is printed with it: fpdf2 reads a font anew for every document, in time proportional
# to its glyphs, and the core font has 586 of them to the extended font's 1,453.
CORE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),
    (0x00A0, 0x017F),
    (0x0218, 0x021B),
    (0x02BC, 0x02BC),
    (0x02C6, 0x02C7),
    (0x02D8, 0x02DD),
    (0x0384, 0x038A),
    (0x038C, 0x038C),
    (0x038E, 0x03A1),
    (0x03A3, 0x03CE),
    (0x0400, 0x045F),
    (0x0490, 0x0491),
    (0x2010, 0x2027),
    (0x2030, 0x203A),
    (0x2044, 0x2044),
    (0x20A0, 0x20C0),
    (0x2116, 0x2116),
    (0x2122, 0x2122),
    (0x2212, 0x2212),
    (0xFFFD, 0xFFFD),
)
CORE_CHARACTERS = frozenset(
    chr(code) for first, last in CORE_RANGES for code in range(first, last + 1)
) | {"\n"}
# Emphasis (headings, totals) outlines the regular glyphs instead of embedding a bold face:
# every embedded font costs fpdf2 a parse and a subset per document, about half the render time.
EMPHASIS_STROKE = 0.045  # of the font size: 0.4 pt around 9-point text

DEFAULT_PRODUCER = "client-portal"
# Where the page count goes, replaced by fpdf2 once the document is complete. Private-use
# characters, which `_clean` removes from every text printed, so no invoice text can contain
# it (fpdf2's default "{nb}" in a description would print as the page count). Four of them
# reserve the width of four digits (so "Page 7 of 7" ends a little short of the margin).
PAGE_COUNT_ALIAS = "\ue000" * 4
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f]")

# Layout in points (fpdf2's unit here), written as millimetres times MM for readability.
MM = 72 / 25.4

# A4.
PAGE_WIDTH = 210 * MM
MARGIN = 18 * MM
TOP_MARGIN = 16 * MM
BOTTOM_MARGIN = 22 * MM
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN

# The table: description, hours, rate, amount.
DESCRIPTION_WIDTH = 110 * MM
HOURS_WIDTH = 16 * MM
RATE_WIDTH = 22 * MM
AMOUNT_WIDTH = CONTENT_WIDTH - DESCRIPTION_WIDTH - HOURS_WIDTH - RATE_WIDTH
# Totals: wide enough that the label and a long amount never run together.
TOTAL_WIDTH = 42 * MM
# Time entries beneath a line, inside the description column.
ENTRY_INDENT = 4 * MM
ENTRY_DATE_WIDTH = 15 * MM
ENTRY_STAFF_WIDTH = 35 * MM
ENTRY_TEXT_WIDTH = DESCRIPTION_WIDTH - ENTRY_INDENT - ENTRY_DATE_WIDTH - ENTRY_STAFF_WIDTH

# Font sizes in points; line heights and gaps as distances.
BODY_SIZE = 9.0
BODY_LINE = 4.4 * MM
ENTRY_SIZE = 7.0
ENTRY_LINE = 3.4 * MM
SMALL_SIZE = 7.5
SMALL_LINE = 3.6 * MM
TOTAL_LINE = 5.4 * MM
HEADING_ROW = 6 * MM
GAP = 1.5 * MM

INK = 30
MUTED = 100
RULE = 160


def _clean(text: str) -> str:
    """Composed characters (NFC), so an accent typed as two code points prints as one glyph;
    tabs and other control characters as spaces (line breaks stay); private-use characters
    (which the font does not have) removed."""
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n"))
    return _PRIVATE_USE.sub("", unicodedata.normalize("NFC", text))


@frozen
class _Column:
    width: float
    lines: Sequence[str]
    align: Align = Align.L


class _DocumentPdf(FPDF):
    """One document's pages: the heading repeated on every page after the first."""

    def __init__(self, document: InvoiceDocument) -> None:
        super().__init__(orientation="P", unit="pt", format="A4")
        self.document = document
        self.table_started = False

    def header(self) -> None:
        if not self.table_started:
            return
        self.set_font(FAMILY, "", SMALL_SIZE)
        self.set_text_color(MUTED)
        document = self.document
        self.cell(
            CONTENT_WIDTH / 2,
            SMALL_LINE,
            _clean(f"{document.title} {document.number}"),
            new_x=XPos.RIGHT,
            new_y=YPos.TOP,
        )
        self.cell(
            CONTENT_WIDTH / 2,
            SMALL_LINE,
            _clean(document.firm.name),
            align=Align.R,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.ln(3 * MM)
        self.table_heading()

    def footer(self) -> None:
        self.set_y(-BOTTOM_MARGIN + 8 * MM)
        self.set_font(FAMILY, "", SMALL_SIZE)
        self.set_text_color(MUTED)
        self.cell(
            CONTENT_WIDTH / 2,
            SMALL_LINE,
            _clean(f"{self.document.title} {self.document.number}"),
            new_x=XPos.RIGHT,
            new_y=YPos.TOP,
        )
        self.cell(
            CONTENT_WIDTH / 2,
            SMALL_LINE,
            f"Page {self.page_no()} of {PAGE_COUNT_ALIAS}",
            align=Align.R,
        )

    @contextmanager
    def strong_text(self, size: float, colour: int = INK) -> Iterator[None]:
        """Text drawn inside is bold-looking: filled and outlined in its own colour."""
        with self.local_context(text_mode=TextMode.FILL_STROKE, line_width=EMPHASIS_STROKE * size):
            self.set_font(FAMILY, "", size)
            self.set_text_color(colour)
            self.set_draw_color(colour)
            yield

    def table_heading(self) -> None:
        currency = self.document.currency
        headings = (
            (DESCRIPTION_WIDTH, "Description", Align.L),
            (HOURS_WIDTH, "Hours", Align.R),
            (RATE_WIDTH, f"Rate ({currency})", Align.R),
            (AMOUNT_WIDTH, f"Amount ({currency})", Align.R),
        )
        with self.strong_text(SMALL_SIZE + 0.5):
            for width, text, align in headings:
                self.cell(width, HEADING_ROW, text, align=align, new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.ln(HEADING_ROW)
        self.set_draw_color(RULE)
        self.line(MARGIN, self.y, MARGIN + CONTENT_WIDTH, self.y)
        self.ln(GAP)


def font_for(document: InvoiceDocument) -> Path:
    """The smaller core font when it has every character the document prints, else the
    extended one. The choice depends on the document only, so the bytes stay the same."""
    for text in _texts_of(document):
        if not CORE_CHARACTERS.issuperset(_clean(text)):
            return EXTENDED_FONT
    return CORE_FONT


def _texts_of(document: InvoiceDocument) -> Iterator[str]:
    """Every text the document brings to the page (labels and numbers are the renderer's own,
    in ASCII, and the currency signs are in both fonts)."""
    for party in (document.firm, document.client):
        yield party.name
        yield from party.address_lines
        yield party.tax_id or ""
        yield party.email or ""
    yield document.number
    yield document.credited_invoice_number or ""
    yield document.period or ""
    yield document.currency
    for line in document.lines:
        yield line.description
        yield line.case_reference or ""
        yield line.role or ""
        for entry in line.entries:
            yield entry.staff_name
            yield entry.description
    if document.discount is not None:
        yield document.discount.description
    for tax in document.tax_lines:
        yield tax.label
        yield tax.note or ""
    yield from document.notes


class Fpdf2InvoiceRenderer:
    """Renders an `InvoiceDocument` to PDF bytes with fpdf2 and a shipped DejaVu Sans subset.

    Refuses (InvalidInput) a document whose totals do not add up.
    """

    def __init__(self, *, producer: str = DEFAULT_PRODUCER) -> None:
        self._producer = producer

    def render(self, document: InvoiceDocument) -> bytes:
        check_adds_up(document)
        pdf = _DocumentPdf(document)
        pdf.set_margins(MARGIN, TOP_MARGIN, MARGIN)
        pdf.set_auto_page_break(auto=True, margin=BOTTOM_MARGIN)
        pdf.alias_nb_pages(PAGE_COUNT_ALIAS)
        pdf.add_font(FAMILY, "", font_for(document))
        for font in pdf.fonts.values():
            if isinstance(font, TTFFont):
                # fontTools would re-measure every glyph kept in the subset, decoding and
                # re-encoding its outline; subsetting never changes a glyph's bounds, and the
                # shipped fonts' are correct, so this halves the time output() takes.
                font.ttfont.recalcBBoxes = False
        pdf.set_title(_clean(f"{document.title} {document.number}"))
        pdf.set_author(_clean(document.firm.name))
        pdf.set_subject(_clean(f"{document.title} for {document.client.name}"))
        pdf.set_creator(self._producer)
        pdf.set_producer(self._producer)
        pdf.set_lang("en")
        # The issue date, never the time of rendering: re-rendering gives the same bytes.
        pdf.set_creation_date(datetime.combine(document.issue_date, time(0), tzinfo=UTC))
        try:
            _Layout(pdf, document).draw()
            return bytes(pdf.output())
        finally:
            # fontTools reads the font lazily and keeps its file open until closed.
            for font in pdf.fonts.values():
                if isinstance(font, TTFFont):
                    font.ttfont.close()


class _Layout:
    def __init__(self, pdf: _DocumentPdf, document: InvoiceDocument) -> None:
        self.pdf = pdf
        self.document = document
        # Staff names, dates, hours and words recur on every page of a long invoice.
        self._widths: dict[tuple[float, str], float] = {}

    def measure(self, text: str, size: float) -> float:
        """The width of `text` at `size` points in the regular face."""
        key = (size, text)
        width = self._widths.get(key)
        if width is None:
            self.pdf.set_font(FAMILY, "", size)
            width = self._widths[key] = self.pdf.get_string_width(text)
        return width

    def draw(self) -> None:
        self.pdf.add_page()
        self.heading()
        self.pdf.table_started = True
        self.pdf.table_heading()
        for line in self.document.lines:
            self.line(line)
        if self.document.discount is not None:
            self.rows(
                [
                    [
                        _Column(DESCRIPTION_WIDTH, self.wrap(self.document.discount.description)),
                        _Column(HOURS_WIDTH, []),
                        _Column(RATE_WIDTH, []),
                        _Column(
                            AMOUNT_WIDTH,
                            [self.document.format_amount(self.document.discount.amount)],
                            Align.R,
                        ),
                    ]
                ],
                size=BODY_SIZE,
                line_height=BODY_LINE,
                colour=INK,
            )
        self.totals()
        self.notes()

    # --- the first page's heading ---------------------------------------------------------------

    def heading(self) -> None:
        pdf, document = self.pdf, self.document
        top = pdf.y
        half = CONTENT_WIDTH / 2
        with pdf.strong_text(13):
            self.left_lines(self.wrap(document.firm.name, 13, half), 6 * MM)
        self.party_details(document.firm, half)
        left_bottom = pdf.y

        pdf.set_xy(MARGIN + half, top)
        with pdf.strong_text(16):
            pdf.cell(half, 7 * MM, document.title, align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FAMILY, "", BODY_SIZE)
        pdf.set_text_color(INK)
        facts = [("Number", document.number), ("Issue date", document.issue_date.isoformat())]
        if document.due_date is not None:
            facts.append(("Due date", document.due_date.isoformat()))
        if document.credited_invoice_number is not None:
            facts.append(("Credits invoice", document.credited_invoice_number))
        if document.period is not None:
            facts.append(("Period", document.period))
        for label, value in facts:
            pdf.set_x(MARGIN + half)
            pdf.cell(half, BODY_LINE, _clean(f"{label}: {value}"), align=Align.R)
            pdf.ln(BODY_LINE)
        right_bottom = pdf.y

        pdf.set_xy(MARGIN, max(left_bottom, right_bottom) + 6 * MM)
        label = "Bill to" if document.kind is DocumentKind.INVOICE else "Credit to"
        with pdf.strong_text(SMALL_SIZE, MUTED):
            pdf.cell(half, SMALL_LINE, label, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        with pdf.strong_text(BODY_SIZE + 1):
            self.left_lines(self.wrap(document.client.name, BODY_SIZE + 1, half), 5 * MM)
        self.party_details(document.client, half)
        pdf.ln(6 * MM)

    def party_details(self, party: Party, width: float) -> None:
        details = list(party.address_lines)
        if party.tax_id:
            details.append(f"Tax ID: {party.tax_id}")
        if party.email:
            details.append(party.email)
        for detail in details:
            lines = self.wrap(detail, BODY_SIZE, width)
            self.pdf.set_font(FAMILY, "", BODY_SIZE)
            self.pdf.set_text_color(INK)
            self.left_lines(lines, BODY_LINE)

    def left_lines(self, lines: Sequence[str], height: float) -> None:
        """Print `lines` one beneath the other from the left margin, in the current font."""
        for text in lines:
            self.pdf.cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # --- the table ------------------------------------------------------------------------------

    def line(self, line: DocumentLine) -> None:
        document = self.document
        description = self.wrap(line.description)
        # The case and role, unless the description says them already.
        context = " · ".join(
            part
            for part in (line.case_reference, line.role)
            if part and part not in line.description
        )
        hours = line.hours
        main = [
            _Column(DESCRIPTION_WIDTH, description),
            _Column(HOURS_WIDTH, [] if hours is None else [f"{hours:,}"], Align.R),
            _Column(RATE_WIDTH, [] if line.rate is None else [self.rate(line.rate)], Align.R),
            _Column(AMOUNT_WIDTH, [document.format_amount(line.amount)], Align.R),
        ]
        rows: list[tuple[list[_Column], float, float, int]] = [(main, BODY_SIZE, BODY_LINE, INK)]
        if context:
            rows.append(
                (
                    [_Column(DESCRIPTION_WIDTH, self.wrap(context, SMALL_SIZE))],
                    SMALL_SIZE,
                    SMALL_LINE,
                    MUTED,
                )
            )
        first_entry = [self.entry_row(line.entries[0])] if line.entries else []
        # A line never ends a page without at least its first entry beneath it.
        needed = sum(self.height(columns, height) for columns, _, height, _ in rows)
        needed += sum(self.height(columns, ENTRY_LINE) for columns in first_entry)
        self.room_for(needed + GAP)
        for columns, size, height, colour in rows:
            self.rows([columns], size=size, line_height=height, colour=colour)
        self.rows(
            [self.entry_row(entry) for entry in line.entries],
            size=ENTRY_SIZE,
            line_height=ENTRY_LINE,
            colour=MUTED,
        )
        self.pdf.ln(GAP)

    def entry_row(self, entry: PrintedTimeEntry) -> list[_Column]:
        text = f"{entry.description} ({entry.raw_minutes} min)"
        billed = entry.billed_hours
        return [
            _Column(ENTRY_INDENT, []),
            _Column(ENTRY_DATE_WIDTH, [entry.date.isoformat()]),
            _Column(ENTRY_STAFF_WIDTH, self.wrap(entry.staff_name, ENTRY_SIZE, ENTRY_STAFF_WIDTH)),
            _Column(ENTRY_TEXT_WIDTH, self.wrap(text, ENTRY_SIZE, ENTRY_TEXT_WIDTH)),
            _Column(HOURS_WIDTH, [] if billed is None else [f"{billed:,}"], Align.R),
            _Column(RATE_WIDTH, []),
            _Column(AMOUNT_WIDTH, [] if entry.billable else ["not billed"], Align.R),
        ]

    def rows(
        self, rows: Sequence[Sequence[_Column]], *, size: float, line_height: float, colour: int
    ) -> None:
        pdf = self.pdf
        for columns in rows:
            height = self.height(columns, line_height)
            self.room_for(height)
            pdf.set_font(FAMILY, "", size)
            pdf.set_text_color(colour)
            top = pdf.y
            # Placed on the baseline where `cell()` would put it: `text()` skips cell's
            # fragment machinery and is several times faster, which the big tables need.
            baseline = top + 0.5 * line_height + 0.3 * size
            x = MARGIN
            for column in columns:
                for index, text in enumerate(column.lines):
                    if column.align is Align.R:
                        left = x + column.width - pdf.c_margin - self.measure(text, size)
                    else:
                        left = x + pdf.c_margin
                    pdf.text(left, baseline + index * line_height, text)
                x += column.width
            pdf.set_xy(MARGIN, top + height)

    def rate(self, rate: Decimal) -> str:
        places = max(self.document.minor_units, decimal_places(rate))
        return f"{rate:,.{places}f}"

    # --- totals and notes -----------------------------------------------------------------------

    def totals(self) -> None:
        pdf, document = self.pdf, self.document
        label_width = CONTENT_WIDTH - TOTAL_WIDTH
        rows: list[tuple[str, Decimal, bool, str | None]] = [("Net", document.net, False, None)]
        for tax in document.tax_lines:
            label = f"{tax.label} {tax.percent} on {document.format_money(tax.base)}"
            rows.append((label, tax.amount, False, tax.note))
        total_label = "Total" if document.kind is DocumentKind.INVOICE else "Total credited"
        rows.append((total_label, document.gross, True, None))
        if document.amount_credited is not None:
            rows.append(("Credited", -document.amount_credited, False, None))
        if document.amount_paid is not None:
            rows.append(("Amount paid", -document.amount_paid, False, None))
        if document.balance_due is not None:
            rows.append(("Balance due", document.balance_due, True, None))
        notes = [self.wrap(note, SMALL_SIZE, CONTENT_WIDTH) for _, _, _, note in rows if note]
        height = 2 * MM + len(rows) * TOTAL_LINE + sum(len(n) * SMALL_LINE + MM for n in notes)
        self.room_for(height)
        pdf.set_draw_color(RULE)
        pdf.line(MARGIN, pdf.y, MARGIN + CONTENT_WIDTH, pdf.y)
        pdf.ln(2 * MM)
        for label, amount, strong, note in rows:
            with pdf.strong_text(BODY_SIZE + 1) if strong else nullcontext():
                if not strong:
                    pdf.set_font(FAMILY, "", BODY_SIZE)
                    pdf.set_text_color(INK)
                pdf.set_x(MARGIN)
                pdf.cell(label_width, TOTAL_LINE, _clean(label), align=Align.R)
                pdf.cell(
                    TOTAL_WIDTH,
                    TOTAL_LINE,
                    document.format_money(amount),
                    align=Align.R,
                    new_x=XPos.LMARGIN,
                    new_y=YPos.NEXT,
                )
            if note:
                pdf.set_font(FAMILY, "", SMALL_SIZE)
                pdf.set_text_color(MUTED)
                for text in self.wrap(note, SMALL_SIZE, CONTENT_WIDTH):
                    pdf.cell(CONTENT_WIDTH, SMALL_LINE, text, align=Align.R)
                    pdf.ln(SMALL_LINE)
                pdf.ln(MM)

    def notes(self) -> None:
        pdf = self.pdf
        if not self.document.notes:
            return
        pdf.ln(4 * MM)
        for note in self.document.notes:
            lines = self.wrap(note, BODY_SIZE - 0.5, CONTENT_WIDTH)
            self.room_for(len(lines) * BODY_LINE)
            pdf.set_font(FAMILY, "", BODY_SIZE - 0.5)
            pdf.set_text_color(INK)
            for text in lines:
                pdf.cell(CONTENT_WIDTH, BODY_LINE, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(GAP)

    # --- measuring ------------------------------------------------------------------------------

    def wrap(
        self, text: str, size: float = BODY_SIZE, width: float = DESCRIPTION_WIDTH
    ) -> list[str]:
        """`text` broken at spaces into the lines that fit `width` at `size` points. May change
        the current font's size: set the font before printing the lines.

        Measured word by word: fpdf2's own line breaker re-measures the whole line for every
        character, which made a 200-entry invoice take a third of a second.
        """
        room = width - 2 * self.pdf.c_margin

        def measure(part: str) -> float:
            return self.measure(part, size)

        lines: list[str] = []
        for paragraph in _clean(text).split("\n"):
            if measure(paragraph) <= room:
                lines.append(paragraph)
                continue
            space = measure(" ")
            current: list[str] = []
            used = 0.0
            for whole_word in paragraph.split(" "):
                word, word_width = whole_word, measure(whole_word)
                if current and used + space + word_width > room:
                    lines.append(" ".join(current))
                    current, used = [], 0.0
                while word_width > room:  # a word longer than the column: cut it
                    cut = _longest_prefix(word, room, measure)
                    lines.append(cut)
                    word = word[len(cut) :]
                    word_width = measure(word)
                used += (space if current else 0.0) + word_width
                current.append(word)
            lines.append(" ".join(current))
        return lines

    @staticmethod
    def height(columns: Sequence[_Column], line_height: float) -> float:
        return (
            max((len(column.lines) for column in columns), default=0) * line_height or line_height
        )

    def room_for(self, height: float) -> None:
        """Start a new page (which repeats the table heading) unless `height` fits on this one."""
        if self.pdf.will_page_break(height):
            self.pdf.add_page()


def _longest_prefix(word: str, room: float, measure: Callable[[str], float]) -> str:
    """The longest start of `word` that fits `room` (at least one character)."""
    end = len(word)
    while end > 1 and measure(word[:end]) > room:
        end -= 1
    return word[:end]
