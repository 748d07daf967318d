"""PDF adapter: invoices and credit notes rendered with fpdf2 and shipped Unicode fonts (DejaVu Sans subsets)."""

from adapters.pdf.renderer import Fpdf2InvoiceRenderer

__all__ = ["Fpdf2InvoiceRenderer"]
