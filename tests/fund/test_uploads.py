"""fund.uploads: the type comes from the bytes, the size is limited (413), the user's name is never a path."""

from __future__ import annotations

import hashlib
import io

import pytest
from werkzeug.datastructures import FileStorage

from fund.uploads import (
    DOCX,
    JPEG,
    PDF,
    PNG,
    XLSX,
    UnsupportedUpload,
    UploadTooLarge,
    check_bytes,
    check_upload,
    display_name,
    sniff,
)
from tests.grants.factories import HTML_BYTES, JPEG_BYTES, PDF_BYTES, office_bytes, png_bytes


@pytest.mark.parametrize(("data", "expected"), [
    (PDF_BYTES, PDF), (png_bytes(), PNG), (JPEG_BYTES, JPEG), (office_bytes("word"), DOCX),
    (office_bytes("xl"), XLSX),
])
def test_accepted_kinds_are_recognised_from_the_content(data, expected):
    assert sniff(data) == expected


@pytest.mark.parametrize("data", [
    HTML_BYTES,
    b"  %PDF-1.4 not at the start",
    b"GIF89a\x01\x00\x01\x00",
    b"PK\x03\x04 not really a zip",
    office_bytes("word", "application/vnd.ms-word.document.macroEnabled.main+xml"),  # .docm
    office_bytes("xl", "application/vnd.ms-excel.sheet.macroEnabled.main+xml"),  # .xlsm
    b"\x89PNG\r\n\x1a\n but no header chunk",
    b"MZ\x90\x00 an executable",
])
def test_other_content_is_refused(data):
    assert sniff(data) is None


def test_an_html_file_renamed_pdf_is_refused(app):
    with app.test_request_context():
        with pytest.raises(UnsupportedUpload) as exc:
            check_bytes(HTML_BYTES, "report.pdf")
    assert exc.value.status == 422 and "file" in exc.value.fields


def test_a_plain_zip_is_not_a_word_document(app):
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("word/document.xml", "<x/>")
    with app.test_request_context(), pytest.raises(UnsupportedUpload):
        check_bytes(buf.getvalue(), "letter.docx")


def test_the_size_limit_is_configurable_and_answered_with_413(app):
    old = app.config["UPLOAD_MAX_BYTES"]
    app.config["UPLOAD_MAX_BYTES"] = 1000
    try:
        with app.test_request_context():
            data = PDF_BYTES + b"0" * 1000
            with pytest.raises(UploadTooLarge) as exc:
                check_upload(FileStorage(io.BytesIO(data), filename="big.pdf"))
            assert exc.value.status == 413
            ok = check_upload(FileStorage(io.BytesIO(PDF_BYTES), filename="small.pdf"))
            assert ok.size == len(PDF_BYTES)
    finally:
        app.config["UPLOAD_MAX_BYTES"] = old


def test_the_default_limit_is_10_mb(app):
    assert app.config["UPLOAD_MAX_BYTES"] == 10 * 1024 * 1024


def test_sha256_and_display_name(app):
    with app.test_request_context():
        upload = check_bytes(PDF_BYTES, "../../etc/passwd")
    assert upload.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert upload.filename == "passwd.pdf"
    assert upload.content_type == PDF


@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd", "passwd.pdf"),
    ("..\\..\\windows\\system32\\config.pdf", "config.pdf"),
    ("/abs/path/report.final.PDF", "report.final.pdf"),
    ("rapport d'activité 2026.pdf", "rapport d_activité 2026.pdf"),
    ("evil\x00name\r\n.html", "evilname.pdf"),
    ("", "document.pdf"),
    ("....", "document.pdf"),
])
def test_display_names_are_never_paths(name, expected):
    result = display_name(name, "pdf")
    assert result == expected
    assert "/" not in result and "\\" not in result and not result.startswith(".")


def test_an_empty_file_and_a_missing_file_are_refused(app):
    with app.test_request_context():
        with pytest.raises(UnsupportedUpload):
            check_bytes(b"", "empty.pdf")
        with pytest.raises(UnsupportedUpload):
            check_upload(None)
        with pytest.raises(UnsupportedUpload):
            check_upload(FileStorage(io.BytesIO(b""), filename=""))
