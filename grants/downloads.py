"""Serving stored documents (always as attachments) and the applicant-facing wording of upload refusals."""

from __future__ import annotations

import contextlib
import io

from flask import Response, send_file
from flask_babel import gettext as _
from flask_login import current_user

from fund.uploads import UnsupportedUpload, UploadTooLarge, max_bytes
from grants import operations
from grants.models import Document


def document_response(doc: Document) -> Response:
    """The file as an attachment, never rendered inline by the browser; the download is audited."""
    data = operations.read_document(doc, current_user)
    response = send_file(io.BytesIO(data), mimetype=doc.content_type, as_attachment=True,
                         download_name=doc.filename, max_age=0, etag=False, conditional=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@contextlib.contextmanager
def translate_upload_errors(field: str = "file"):
    """Re-raise upload refusals with this package's (translated) wording."""
    try:
        yield
    except UploadTooLarge as exc:
        mb = f"{round(max_bytes() / (1024 * 1024), 1):g}"
        msg = _("The file is larger than the limit of %(mb)s MB.", mb=mb)
        raise UploadTooLarge(msg, fields={field: [msg]}) from exc
    except UnsupportedUpload as exc:
        if exc.code == "empty_file":
            msg = _("The file is empty.")
        elif exc.code == "no_file":
            msg = _("Choose a file to upload.")
        else:
            msg = _("This type of file is not accepted. Upload a PDF, Word (.docx), Excel (.xlsx), JPEG or PNG file.")
        raise UnsupportedUpload(msg, fields={field: [msg]}) from exc
