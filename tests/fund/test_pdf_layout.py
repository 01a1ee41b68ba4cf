"""Page breaks in printed documents (fund/static/pdf/pdf.css, rendered by WeasyPrint as every PDF is): a table
row is never split across pages, column heads repeat but totals are printed once, and a signature block is
never separated from its heading."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from fund.pdf import html_to_pdf

HEAD = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
        '<link rel="stylesheet" href="pdf/pdf.css"></head><body>')


def pages_of(html: str) -> list[str]:
    pdf = html_to_pdf(HEAD + html + "</body></html>")
    return [re.sub(r"\s+", " ", page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_a_signature_block_moves_whole_with_its_heading():
    # The spacer leaves room at the foot of page 1 for the heading but not for the block to sign.
    pages = pages_of('<div style="height: 228mm"></div><section class="signatures"><h2>Signatures</h2><table>'
                     "<tr><th>For the organisation</th><th>For the fund</th></tr>"
                     '<tr><td style="height: 25mm">Name, title, date</td><td>Name, title, date</td></tr></table>'
                     "</section>")
    assert len(pages) == 2
    assert "Signatures" not in pages[0] and "Signatures" in pages[1] and "For the organisation" in pages[1]


def test_long_tables_keep_rows_whole_repeat_heads_and_total_once():
    filler = "<br>".join("abcdef")
    rows = "".join(f"<tr><td>Line {n}<br>{filler}<br>continued {n}</td><td class='num'>{n}.00</td></tr>"
                   for n in range(60))
    pages = pages_of("<table><thead><tr><th>Budget item</th><th>Amount</th></tr></thead>"
                     f"<tbody>{rows}</tbody><tfoot><tr><th>Grand total</th><td>11175.00</td></tr></tfoot></table>")
    assert len(pages) >= 3
    assert sum(page.count("Grand total") for page in pages) == 1 and "Grand total" in pages[-1]
    assert all("Budget item" in page for page in pages)  # the heads on every page
    for n in range(60):
        page = next(p for p in pages if re.search(rf"\bLine {n}\b", p))
        assert re.search(rf"\bcontinued {n}\b", page), f"row {n} split across pages"
