"""Rendering safety of statements: what a statement shows is escaped; markup that reaches the renderer anyway
(a local file, an attachment, a network address) produces a PDF without that content, with no attachment and
without any outbound connection; rendering is bounded in time and memory."""

from __future__ import annotations

import datetime as dt
import io
import socket
import threading
import time

import pypdf
import pytest

from donors import statements as st
from donors.models import Donor
from fund import pdf as fund_pdf
from fund.db import db
from fund.pdf import PdfError, html_to_pdf_bounded
from tests.donors import factories as f
from tests.donors.statement_support import fake_directory, pdf_attachments, pdf_text  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("fake_directory")


class ConnectionRecorder:
    """A TCP server on localhost that records every connection made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                continue
            self.connections.append(addr)
            try:
                conn.sendall(b"HTTP/1.0 404 Not Found\r\n\r\n")
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def recorder():
    server = ConnectionRecorder()
    yield server
    server.stop()


def hostile_markup(port: int) -> str:
    url = f"http://127.0.0.1:{port}"
    return (
        '<img src="file:///etc/passwd">'
        '<link rel="attachment" href="file:///etc/passwd">'
        '<link rel="attachment" href="file:///etc/hostname" title="host">'
        '<a rel="attachment" href="file:///etc/group">group</a>'
        '<link rel="attachment" href="pdf/logo.svg">'
        f'<img src="{url}/pixel.png">'
        f'<link rel="stylesheet" href="{url}/style.css">'
        f'<style>@import url("{url}/import.css"); body {{ background: url({url}/bg.png) }}'
        f'@font-face {{ font-family: Evil; src: url({url}/font.ttf) }} p {{ font-family: Evil }}</style>'
        f'<iframe src="{url}/frame"></iframe><object data="{url}/object"></object><embed src="{url}/embed">'
        f'<svg width="10" height="10"><image href="{url}/svg.png" width="10" height="10"/></svg>'
        '<img src="data:text/html;base64,PGgxPmhpPC9oMT4=">'
        "<p>END-OF-DOCUMENT</p>"
    )


def assert_clean(pdf: bytes, recorder: ConnectionRecorder) -> None:
    time.sleep(0.3)
    assert recorder.connections == []
    assert pdf_attachments(pdf) == {}
    text = pdf_text(pdf)
    assert "root:" not in text and b"root:x:" not in pdf
    assert "END-OF-DOCUMENT" in text or "END-OF-DOCUMENT" in pdf.decode("latin-1")


def test_text_from_users_is_escaped_in_the_statement(app, recorder):
    hostile = hostile_markup(recorder.port)
    with app.test_request_context():
        donor = f.donor("<b>Evil</b> " + hostile[:180])
        pledge = f.pledge(donor, "100.00", "USD", pledged_on=dt.date(2026, 2, 1),
                          earmark={"type": "theme", "value": f'<img src="http://127.0.0.1:{recorder.port}/e.png">'})
        f.contribution(donor, "100.00", "USD", pledge_=pledge, received_on=dt.date(2026, 2, 2),
                       reference=f'<link rel="attachment" href="file:///etc/passwd">{recorder.port}')
        db.session.commit()
        statement = st.build_statement(db.session.get(Donor, donor.id), dt.date(2026, 1, 1), dt.date(2026, 6, 30))
        pdf = st.render_statement_pdf(statement, preview=True)
    time.sleep(0.3)
    assert recorder.connections == []
    assert pdf_attachments(pdf) == {}
    text = pdf_text(pdf)
    assert "<b>Evil</b>" in text  # shown as text, not interpreted
    assert "file:///etc/passwd" in text and "root:" not in text


def test_markup_that_reaches_the_renderer_fetches_nothing_and_attaches_nothing(app, recorder):
    """As if a template emitted unescaped markup: the real statement page with hostile markup inside."""
    with app.test_request_context():
        donor = f.donor("Plain donor")
        db.session.commit()
        statement = st.build_statement(db.session.get(Donor, donor.id), dt.date(2026, 1, 1), dt.date(2026, 6, 30))
        with app.test_request_context():
            html = fund_pdf.render_html("pdf/statement.html", st.pdf_context(statement, preview=True))
    html = html.replace("</body>", hostile_markup(recorder.port) + "</body>")
    pdf = html_to_pdf_bounded(html, 60)
    assert_clean(pdf, recorder)
    assert "Plain donor" in pdf_text(pdf)


def test_the_fetcher_is_asked_only_for_bundled_assets_and_refuses_the_rest(monkeypatch, recorder):
    asked: list[str] = []
    original = fund_pdf._fetcher_class

    def recording_class():
        base = original()

        class Recording(base):
            def fetch(self, url, headers=None):
                asked.append(url)
                return super().fetch(url, headers)

        return Recording

    monkeypatch.setattr(fund_pdf, "_fetcher_class", recording_class)
    html = ('<html><head><link rel="stylesheet" href="pdf/statement.css"></head><body><img src="pdf/logo.svg">'
            + hostile_markup(recorder.port) + "</body></html>")
    pdf = fund_pdf.html_to_pdf(html)
    assert_clean(pdf, recorder)
    served = [u for u in asked if fund_pdf.static_path_for(u) is not None]
    assert served and all(u.endswith(("statement.css", "logo.svg")) for u in served)
    refused = [u for u in asked if fund_pdf.static_path_for(u) is None and fund_pdf.inline_png(u) is None]
    assert any(u.startswith("file:///etc/passwd") for u in refused)
    assert any(u.startswith(f"http://127.0.0.1:{recorder.port}") for u in refused)


def test_rendering_is_bounded_in_memory():
    html = "<html><body>" + "<p>words and more words</p>" * 150000 + "</body></html>"
    with pytest.raises(PdfError, match="MiB"):
        html_to_pdf_bounded(html, 120, memory_mb=250)


def test_only_real_inline_png_images_are_served():
    import base64

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 10).decode()
    assert fund_pdf.inline_png(f"data:image/png;base64,{png}") is not None
    assert fund_pdf.inline_png("data:image/png;base64," + base64.b64encode(b"<svg/>").decode()) is None
    assert fund_pdf.inline_png("data:image/svg+xml;base64,PHN2Zy8+") is None
    assert fund_pdf.inline_png("data:image/png;base64,!!!") is None
    huge = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * (fund_pdf.MAX_INLINE_PNG + 1)).decode()
    assert fund_pdf.inline_png(f"data:image/png;base64,{huge}") is None


def test_a_pdf_page_count_is_reasonable_for_a_long_payment_list(app):
    with app.test_request_context():
        donor = f.donor("Many payments")
        for i in range(120):
            f.contribution(donor, "10.00", "USD", received_on=dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
                           reference=f"MANY-{i:04d}")
        db.session.commit()
        statement = st.build_statement(db.session.get(Donor, donor.id), dt.date(2026, 1, 1), dt.date(2026, 11, 1))
        pdf = st.render_statement_pdf(statement, preview=True)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = pdf_text(pdf)
    assert all(f"MANY-{i:04d}" in text for i in range(120))
    assert len(reader.pages) <= 5
