"""fund.pdf: plain-data context, a fetcher that serves only bundled assets, a bounded rendering time."""

from __future__ import annotations

import io

import pypdf
import pytest

from fund.pdf import STATIC_ROOT, PdfError, StaticOnlyFetcher, check_plain, html_to_pdf_bounded, static_path_for


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_renders_a_document_with_the_bundled_stylesheet_and_logo():
    html = ('<html><head><link rel="stylesheet" href="pdf/pdf.css"></head><body><img src="pdf/logo.svg">'
            "<h1>Accusé de réception</h1></body></html>")
    pdf = html_to_pdf_bounded(html, 60)
    assert pdf.startswith(b"%PDF-")
    assert "Accusé de réception" in text_of(pdf)


def test_local_files_outside_the_static_directory_are_never_read_or_attached(tmp_path):
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red } /* TOP-SECRET-MARKER */")
    html = (f'<html><head><link rel="attachment" href="{secret.as_uri()}"><link rel="attachment" '
            'href="file:///etc/passwd"></head><body><a rel="attachment" href="file:///etc/hostname">x</a>'
            f'<img src="file:///etc/passwd"><img src="../../../../etc/passwd"><p>visible</p></body></html>')
    pdf = html_to_pdf_bounded(html, 60)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert not reader.attachments
    assert b"TOP-SECRET-MARKER" not in pdf and b"root:" not in pdf
    assert "visible" in text_of(pdf)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "http://127.0.0.1:9/logo.png",
    "https://example.org/style.css",
    "data:text/css,body{}",
    (STATIC_ROOT / "pdf" / ".." / ".." / "__init__.py").as_uri(),
    (STATIC_ROOT / "fund.css").as_uri() + "/../../config.py",
])
def test_the_fetcher_refuses_everything_but_bundled_assets(url):
    fetcher = StaticOnlyFetcher()
    with pytest.raises(ValueError):
        fetcher.fetch(url)
    assert fetcher.refused


def test_the_fetcher_serves_bundled_assets():
    response = StaticOnlyFetcher().fetch((STATIC_ROOT / "pdf" / "pdf.css").as_uri())
    assert b"@page" in response.read() and response.content_type == "text/css"
    assert static_path_for((STATIC_ROOT / "pdf" / "logo.svg").as_uri()) is not None


def test_the_context_must_be_plain_data():
    from decimal import Decimal

    check_plain({"a": [1, "x", Decimal("1.00"), None, {"b": True}]})
    with pytest.raises(PdfError):
        check_plain({"amount": 1.5})
    with pytest.raises(PdfError):
        check_plain({"user": object()})


def test_rendering_time_is_bounded():
    html = "<html><body>" + "<table>" + "<tr><td>cell</td></tr>" * 20000 + "</table></body></html>"
    with pytest.raises(PdfError, match="longer than"):
        html_to_pdf_bounded(html, 0.5)
