"""A Python client generated from the OpenAPI document (openapi-python-client, pinned) drives a short journey
against the service on a real HTTP server: a donor and a contribution, a call for proposals, an organisation with
its PSEA policy, an application with its budget workbook, and its submission. If the generator could not read the
document, or the client could not parse a response, the document would be wrong."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.test_api_only import ANSWERS, ORGANISATION
from tests.grants import factories as gf
from tests.live import live_server

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
#: The generator has no type for binary bodies other than application/octet-stream, so it leaves out the 200 of
#: the downloads (documents in their own media type, statements as PDF); everything else it must read.
DOWNLOADS = ("GET /api/v1/documents/{document_id}", "GET /api/v1/statements/{number}",
             "GET /api/v1/donors/{donor_id}/statement")


@pytest.fixture
def vtf_client(app, tmp_path):
    document = app.test_client().get("/api/v1/openapi.json").get_data(as_text=True)
    (tmp_path / "openapi.json").write_text(document)
    run = subprocess.run([str(GENERATOR), "generate", "--path", "openapi.json", "--meta", "none",
                          "--output-path", str(tmp_path / "vtf_client")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    warnings = [line for line in run.stdout.splitlines() if line.startswith("WARNING parsing")]
    assert all(any(d in line for d in DOWNLOADS) for line in warnings), warnings
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("vtf_client")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "vtf_client" or m.startswith("vtf_client.")]:
            del sys.modules[name]


def test_a_generated_client_runs_donor_contribution_call_application_submission(app, make_user, api_token,
                                                                                vtf_client):
    from vtf_client import AuthenticatedClient
    from vtf_client.api.donors_api import post_api_v1_contributions, post_api_v1_donors
    from vtf_client.api.grants_api import (
        post_api_v1_applications,
        post_api_v1_applications_application_id_documents,
        post_api_v1_applications_application_id_submit,
        post_api_v1_calls,
        post_api_v1_calls_call_id_open,
        post_api_v1_organisations,
        post_api_v1_organisations_organisation_id_psea_policy,
    )
    from vtf_client.models import (
        ApplicationCreateIn,
        CallIn,
        ContributionIn,
        DocumentUploadIn,
        DocumentUploadInKind,
        DonorIn,
        Error,
        FileUploadIn,
        OrganisationIn,
    )
    from vtf_client.types import File

    def pdf(name: str) -> File:
        return File(payload=io.BytesIO(gf.PDF_BYTES), file_name=name, mime_type="application/pdf")

    from fund.accounting import rates
    from fund.db import db

    with app.app_context():
        rates.seed_currencies()  # the currency table is emptied between tests
        db.session.commit()
    now = dt.datetime.now(dt.UTC)
    with live_server(app) as server:
        def as_user(role: str) -> AuthenticatedClient:
            return AuthenticatedClient(base_url=server.url, token=api_token(make_user(role)), timeout=60)

        fo, fm, ngo = as_user("finance_officer"), as_user("fund_manager"), as_user("applicant")

        donor = post_api_v1_donors.sync(client=fo, body=DonorIn.from_dict(
            {"name": "Kingdom of Norway", "type": "member_state", "country": "NO"}))
        first = post_api_v1_contributions.sync_detailed(client=fo, idempotency_key="journey-1", body=ContributionIn(
            donor_id=donor.id, amount="250000.00", currency="USD", received_on=now.date(), bank_reference="NO-1"))
        assert first.status_code == 201, first.content
        contribution = first.parsed
        assert (contribution.amount, contribution.usd_amount) == ("250000.00", "250000.00")
        again = post_api_v1_contributions.sync_detailed(client=fo, idempotency_key="journey-1", body=ContributionIn(
            donor_id=donor.id, amount="250000.00", currency="USD", received_on=now.date(), bank_reference="NO-1"))
        assert again.status_code == 201 and again.parsed.id == contribution.id

        call = post_api_v1_calls.sync(client=fm, body=CallIn.from_dict({
            "title_en": "Medium-term assistance", "title_fr": "Assistance à moyen terme", "window": "medium_term",
            "opens_at": (now - dt.timedelta(days=1)).isoformat(),
            "closes_at": (now + dt.timedelta(days=30)).isoformat(),
            "envelope": "1000000.00", "min_grant": "20000.00", "max_grant": "60000.00", "max_duration_months": 24,
            "required_documents": ["psea_policy", "budget_workbook"],
            "criteria": [{"name_en": "Relevance", "name_fr": "Pertinence", "weight": 100}]}))
        assert post_api_v1_calls_call_id_open.sync(call.id, client=fm).status.value == "open"

        org = post_api_v1_organisations.sync(client=ngo, body=OrganisationIn.from_dict(ORGANISATION))
        refused = post_api_v1_organisations_organisation_id_psea_policy.sync(org.id, client=ngo, body=FileUploadIn(
            file=File(payload=io.BytesIO(gf.HTML_BYTES), file_name="policy.html")))
        assert isinstance(refused, Error) and "file" in refused.error.fields.additional_properties
        org = post_api_v1_organisations_organisation_id_psea_policy.sync(org.id, client=ngo,
                                                                        body=FileUploadIn(file=pdf("psea.pdf")))
        assert org.complete

        application = post_api_v1_applications.sync(client=ngo, body=ApplicationCreateIn.from_dict(
            {"call_id": call.id, **ANSWERS}))
        assert application.requested_amount == "38500.00" and application.currency == "USD"
        workbook = post_api_v1_applications_application_id_documents.sync(application.id, client=ngo, body=(
            DocumentUploadIn(file=File(payload=io.BytesIO(gf.office_bytes("xl")), file_name="budget.xlsx"),
                             kind=DocumentUploadInKind.BUDGET_WORKBOOK)))
        assert workbook.kind == "budget_workbook"
        submitted = post_api_v1_applications_application_id_submit.sync(application.id, client=ngo)
        assert submitted.status == "received" and submitted.reference
