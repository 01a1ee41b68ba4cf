"""Imported once by the PDF renderer server (see :mod:`fund.pdf`): lays out a small document so that fonts and
WeasyPrint's caches are loaded before renderers are forked from it, instead of in every rendering. A failure here
only costs that saving (each renderer then loads them itself)."""

try:
    from fund.pdf import STATIC_ROOT, html_to_pdf

    html_to_pdf('<html><head><link rel="stylesheet" href="pdf/statement.css"></head><body><p>Warm-up 0–9 '
                "<b>bold</b></p><pre>mono</pre></body></html>", STATIC_ROOT)
except Exception:  # noqa: BLE001
    pass
