"""Uploaded files: size limit, type recognised from the content, SHA-256, a harmless display name.

Only PDF, DOCX, XLSX, JPEG and PNG are accepted, and the type comes from the bytes, never from the file name
or the Content-Type the browser sent: an HTML page renamed ``report.pdf`` is refused. DOCX and XLSX are ZIP
packages whose ``[Content_Types].xml`` declares the main Word or Excel part (``word/document.xml`` or
``xl/workbook.xml``); macro-enabled variants declare other types and are refused. A file larger than
``UPLOAD_MAX_BYTES`` (default 10 MB) is answered with 413. The user's file name is kept only as a display
name (its last path component, control characters removed); storage uses random keys (fund/storage.py).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import IO

from flask import current_app
from flask_babel import gettext as _

from fund.errors import FundError

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JPEG = "image/jpeg"
PNG = "image/png"

#: Content type -> file extension, for every accepted kind of file.
ALLOWED: dict[str, str] = {PDF: "pdf", DOCX: "docx", XLSX: "xlsx", JPEG: "jpg", PNG: "png"}

_DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_CONTENT_TYPES_LIMIT = 1024 * 1024


class UploadTooLarge(FundError):
    status = 413
    code = "payload_too_large"


class UnsupportedUpload(FundError):
    status = 422
    code = "unsupported_file_type"


@dataclass(frozen=True)
class Upload:
    """A checked upload: its bytes, recognised type, SHA-256 and a display name that is never a path."""

    data: bytes
    content_type: str
    extension: str
    sha256: str
    size: int
    filename: str


def max_bytes() -> int:
    return int(current_app.config.get("UPLOAD_MAX_BYTES", 10 * 1024 * 1024))


def _zip_kind(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "[Content_Types].xml" not in names:
                return None
            info = zf.getinfo("[Content_Types].xml")
            if info.file_size > _CONTENT_TYPES_LIMIT:
                return None
            with zf.open(info) as fh:
                types = fh.read(_CONTENT_TYPES_LIMIT).decode("utf-8", "replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, OSError, RuntimeError, NotImplementedError):
        return None
    if _DOCX_MAIN in types and "word/document.xml" in names:
        return DOCX
    if _XLSX_MAIN in types and "xl/workbook.xml" in names:
        return XLSX
    return None


def sniff(data: bytes) -> str | None:
    """The content type of ``data`` if it is one of the accepted kinds, recognised from the bytes; else None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    return None


_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)


def display_name(name: str | None, extension: str) -> str:
    """A harmless name for showing and for Content-Disposition: the last path component of what the user
    sent, without control or path characters, with the extension of the recognised type."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = _UNSAFE.sub("_", stem).strip(" ._")[:100]
    return f"{stem or 'document'}.{extension}"


def read_stream(stream: IO[bytes], limit: int) -> bytes:
    """Read at most ``limit`` bytes; 413 if there is more."""
    chunks, total = [], 0
    while True:
        chunk = stream.read(min(64 * 1024, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise UploadTooLarge(
                _("The file is larger than the limit of %(mb)s MB.", mb=_megabytes(limit)),
                fields={"file": [_("The file is larger than the limit of %(mb)s MB.", mb=_megabytes(limit))]},
            )
    return b"".join(chunks)


def _megabytes(n: int) -> str:
    value = n / (1024 * 1024)
    return f"{value:.1f}".rstrip("0").rstrip(".") if value < 10 else str(round(value))


def check_upload(file_storage, field: str = "file") -> Upload:
    """Check an uploaded ``werkzeug.datastructures.FileStorage``: present, small enough, an accepted type."""
    if file_storage is None or not file_storage.filename:
        raise UnsupportedUpload(_("Choose a file to upload."), fields={field: [_("Choose a file to upload.")]},
                                code="no_file")
    data = read_stream(file_storage.stream, max_bytes())
    return check_bytes(data, file_storage.filename, field=field)


def check_bytes(data: bytes, filename: str | None, field: str = "file") -> Upload:
    if len(data) > max_bytes():
        msg = _("The file is larger than the limit of %(mb)s MB.", mb=_megabytes(max_bytes()))
        raise UploadTooLarge(msg, fields={field: [msg]})
    if not data:
        msg = _("The file is empty.")
        raise UnsupportedUpload(msg, fields={field: [msg]}, code="empty_file")
    content_type = sniff(data)
    if content_type is None:
        msg = _("This type of file is not accepted. Upload a PDF, Word (.docx), Excel (.xlsx), JPEG or PNG file.")
        raise UnsupportedUpload(msg, fields={field: [msg]})
    extension = ALLOWED[content_type]
    return Upload(
        data=data,
        content_type=content_type,
        extension=extension,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=display_name(filename, extension),
    )
