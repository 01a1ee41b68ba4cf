"""Documents: recognised from the content, size-limited (413), stored under a random name with their SHA-256,
downloaded as attachments by those allowed, every download audited; a user's file name is never a path."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from fund.audit import AuditEvent
from fund.db import db
from grants.models import Document
from tests.grants import factories as f


@pytest.fixture
def draft(app, make_user, api_as, login_as):
    """(applicant API client, portal client, application id) for a draft application."""
    user = make_user("applicant")
    with app.test_request_context():
        application = f.make_application(user, complete=False)
        db.session.commit()
        app_id = application.id
    return api_as(user), login_as(user), app_id


def documents() -> list[Document]:
    return db.session.execute(select(Document).where(Document.kind != "psea_policy")).scalars().all()


def stored_files(app) -> set[Path]:
    root = Path(app.config["STORAGE_DIR"])
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_an_html_file_renamed_pdf_is_refused_by_the_api_and_the_portal(app, draft):
    api, portal, app_id = draft
    files_before = stored_files(app)
    resp = api.post(f"/api/v1/applications/{app_id}/documents",
                    data={"kind": "other", "file": (io.BytesIO(f.HTML_BYTES), "report.pdf", "application/pdf")})
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "unsupported_file_type"
    assert "not accepted" in resp.json["error"]["fields"]["file"][0]
    page_url = f"/grants/applications/{app_id}/sections/documents"
    resp = portal.submit(f"/grants/applications/{app_id}/documents",
                         {"kind": "other", "file": (io.BytesIO(f.HTML_BYTES), "report.pdf")}, page=page_url)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert 'id="file-error"' in body and "This type of file is not accepted" in body
    with app.app_context():
        assert documents() == []
    assert stored_files(app) == files_before


def test_an_oversized_upload_gets_413_and_nothing_is_stored(app, draft):
    api, portal, app_id = draft
    files_before = stored_files(app)
    big = f.PDF_BYTES + b"0" * (10 * 1024 * 1024)  # just over the default 10 MB
    resp = api.post(f"/api/v1/applications/{app_id}/documents",
                    data={"kind": "other", "file": (io.BytesIO(big), "big.pdf")})
    assert resp.status_code == 413 and resp.json["error"]["code"] == "payload_too_large"
    old = app.config["UPLOAD_MAX_BYTES"]
    app.config["UPLOAD_MAX_BYTES"] = 2000
    try:
        resp = portal.submit(f"/grants/applications/{app_id}/documents",
                             {"kind": "other", "file": (io.BytesIO(f.PDF_BYTES + b"0" * 2000), "big.pdf")},
                             page=f"/grants/applications/{app_id}/sections/documents")
        assert resp.status_code == 413
        assert "larger than the limit of" in resp.get_data(as_text=True)
    finally:
        app.config["UPLOAD_MAX_BYTES"] = old
    with app.app_context():
        assert documents() == []
    assert stored_files(app) == files_before


def test_downloads_are_attachments_with_nosniff_and_are_audited(app, draft, api_as):
    api, portal, app_id = draft
    data = f.png_bytes()
    resp = api.post(f"/api/v1/applications/{app_id}/documents",
                    data={"kind": "letter_of_support", "file": (io.BytesIO(data), "lettre d'appui.png")})
    assert resp.status_code == 201, resp.json
    doc = resp.json
    assert doc["content_type"] == "image/png" and doc["sha256"] == hashlib.sha256(data).hexdigest()
    for client, url in ((api, f"/api/v1/documents/{doc['id']}"), (portal, f"/grants/documents/{doc['id']}"),
                        (api_as("fund_manager"), f"/api/v1/documents/{doc['id']}"),
                        (api_as("auditor"), f"/api/v1/documents/{doc['id']}")):
        got = client.get(url)
        assert got.status_code == 200 and got.data == data
        assert got.headers["Content-Disposition"].startswith("attachment;")
        assert "filename=" in got.headers["Content-Disposition"]
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert got.headers["Content-Type"] == "image/png"
    for role in ("donor", "finance_officer"):
        assert api_as(role).get(f"/api/v1/documents/{doc['id']}").status_code == 403
    # Reviewers may read the documents of applications assigned to them; to a reviewer not assigned this one,
    # it does not exist.
    assert api_as("reviewer").get(f"/api/v1/documents/{doc['id']}").status_code == 404
    with app.app_context():
        downloads = db.session.execute(select(AuditEvent).where(AuditEvent.action == "document.download",
                                                                AuditEvent.entity_id == str(doc["id"]))).scalars()
        assert len(list(downloads)) == 4


def test_a_path_as_file_name_is_harmless(app, draft, tmp_path):
    api, _portal, app_id = draft
    passwd = Path("/etc/passwd")
    before = passwd.read_bytes() if passwd.exists() else None
    resp = api.post(f"/api/v1/applications/{app_id}/documents",
                    data={"kind": "other", "file": (io.BytesIO(f.PDF_BYTES), "../../etc/passwd")})
    assert resp.status_code == 201
    assert resp.json["filename"] == "passwd.pdf"
    with app.app_context():
        doc = db.session.get(Document, resp.json["id"])
        key = doc.storage_key
        assert "passwd" not in key and "/" not in key and len(key) == 32
    root = Path(app.config["STORAGE_DIR"]).resolve()
    stored = root / key[:2] / key[2:4] / key
    assert stored.read_bytes() == f.PDF_BYTES
    assert not any("passwd" in p.name for p in root.rglob("*"))
    assert not (root.parent / "etc").exists() and not (root / "etc").exists()
    if before is not None:
        assert passwd.read_bytes() == before
    got = api.get(f"/api/v1/documents/{resp.json['id']}")
    assert 'filename=passwd.pdf' in got.headers["Content-Disposition"]


def test_documents_can_be_removed_only_while_the_application_is_a_draft(app, draft):
    api, portal, app_id = draft
    doc_id = api.post(f"/api/v1/applications/{app_id}/documents",
                      data={"kind": "other", "file": (io.BytesIO(f.PDF_BYTES), "a.pdf")}).json["id"]
    with app.app_context():
        key = db.session.get(Document, doc_id).storage_key
    root = Path(app.config["STORAGE_DIR"])
    assert (root / key[:2] / key[2:4] / key).exists()
    resp = portal.submit(f"/grants/documents/{doc_id}/delete", {},
                         page=f"/grants/applications/{app_id}/sections/documents")
    assert resp.status_code in (302, 303)
    with app.app_context():
        assert db.session.get(Document, doc_id) is None
        assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "document.delete")).first()
    assert not (root / key[:2] / key[2:4] / key).exists()
