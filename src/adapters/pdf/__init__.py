"""PDF adapter: invoices and credit notes rendered with fpdf2 and a shipped Unicode font."""

from adapters.pdf.renderer import Fpdf2InvoiceRenderer

__all__ = ["Fpdf2InvoiceRenderer"]
