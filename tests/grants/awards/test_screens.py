"""What each reader sees of a grant on the portal: the grantee (its grant and the next step, people named by their
role, history in sentences, in English and French), the finance officers (the approval queue says why a payment
cannot be approved, and a refused approval is in the audit trail)."""

from __future__ import annotations

import html
import io
import re

from fund.db import db
from tests.grants.awards.conftest import PDF


def french(app, client):
    """The client's user reads the portal in French (the account's language wins over the session's)."""
    from fund.models import User

    with app.app_context():
        db.session.get(User, client.user.id).language = "fr"
        db.session.commit()
    return client


def text(resp) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True))))


def test_the_portal_shows_an_awarded_grant_waiting_for_the_organisations_signature(app, world, login_as):
    w = world()
    number = w.ngo.get(f"/api/v1/grants/{w.grant_id}").get_json()["number"]
    client = login_as(w.applicant)
    home = text(client.get("/grants/portal"))
    assert number in home
    assert "will appear here once a grant is awarded" not in home
    assert "Awarded: awaiting your signature" in home
    assert "Next step: sign the agreement" in home
    assert f'href="/grants/awards/{w.grant_id}"' in client.get("/grants/portal").get_data(as_text=True)
    # The application's status says what happened, not "Decision".
    row = re.search(r"<tbody>.*?</tbody>", client.get("/grants/portal").get_data(as_text=True), re.S).group(0)
    assert ">Decision<" not in row and "awaiting your signature" in row
    # The grantee's dashboard says the same.
    assert "Next step: sign the agreement" in text(client.get("/grants/awards/"))

    resp = w.ngo.post(f"/api/v1/grants/{w.grant_id}/agreement", data={"file": (io.BytesIO(PDF), "signed.pdf")},
                      content_type="multipart/form-data")
    assert resp.status_code == 200
    home = text(client.get("/grants/portal"))
    assert "awaiting the fund's countersignature" in home and "Next step: sign the agreement" not in home
    assert w.fm.post(f"/api/v1/grants/{w.grant_id}/countersign").status_code == 200
    home = text(client.get("/grants/portal"))
    assert "Active" in home and "Next step: the interim report is due on" in home

    # Another organisation's applicant sees none of it.
    assert number not in text(login_as(w.other_applicant).get("/grants/portal"))


def test_the_portal_in_french(app, world, login_as):
    w = world()
    client = login_as(w.applicant)
    french(app, client)
    home = text(client.get("/grants/portal"))
    assert "Accordée : en attente de votre signature" in home
    assert "Prochaine étape : signer l'accord" in home
