"""The selection through the portal, without JavaScript: the fund manager screens, assigns reviewers, the
reviewers declare and score, the ranking and the call's dashboard show the result, the Board's approval is
recorded, and the organisation sees the decision on its dashboard, in French."""

from __future__ import annotations

import re

from sqlalchemy import select

from fund.db import db
from fund.models import User
from grants.models import Application
from tests.grants.review import factories as rf


def test_the_selection_through_the_portal(app, login_as, make_user, within):
    def setup():
        rf.fund_cash("100000.00")
        application = rf.submitted(name="Association Espoir")
        applicant = db.session.get(User, application.created_by_id)
        applicant.language = "fr"
        return application.id, application.call_id, applicant.id

    app_id, call_id, applicant_id = within(setup)
    first, second = make_user("reviewer", name="Fatima H."), make_user("reviewer", name="Kwame M.")
    fm = login_as("fund_manager")

    dashboard = fm.get("/dashboard").get_data(as_text=True)
    assert "Selection: screening, reviews and Board decisions" in dashboard and "Screening queue" in dashboard
    queue = fm.get("/grants/selection/screening").get_data(as_text=True)
    assert f"/grants/applications/{app_id}/screening" in queue

    form = {f"{code}-result": "pass" for code in rf.ALL_PASS}
    resp = fm.submit(f"/grants/applications/{app_id}/screening", {**form, "outcome": "eligible"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/grants/applications/{app_id}/reviewers")

    page = fm.get(f"/grants/applications/{app_id}/reviewers").get_data(as_text=True)
    assert "Fatima H." in page and "Kwame M." in page
    resp = fm.submit(f"/grants/applications/{app_id}/reviewers", {"user_ids": [str(first.id), str(second.id)]})
    assert resp.status_code == 302

    for reviewer, scores in ((first, ("5", "4")), (second, ("4", "4"))):
        client = login_as(reviewer)
        inbox = client.get("/grants/reviews").get_data(as_text=True)
        review_url = re.search(r'href="(/grants/reviews/\d+)"', inbox).group(1)
        resp = client.submit(f"{review_url}/conflict", {"conflict": "no"}, page=review_url)
        assert resp.status_code == 302
        page = client.get(review_url).get_data(as_text=True)
        ids = re.findall(r'name="score-(\d+)"', page)
        criteria = list(dict.fromkeys(ids))
        data = {"recommendation": "fund", "action": "submit"}
        for cid, score in zip(criteria, scores, strict=True):
            data[f"score-{cid}"] = score
            data[f"comment-{cid}"] = "Well argued."
        resp = client.submit(review_url, data)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]

    ranking = fm.get(f"/grants/selection/calls/{call_id}/ranking").get_data(as_text=True)
    assert "4.30" in ranking  # (5*60 + 4*40)/100 = 4.60 and (4*60 + 4*40)/100 = 4.00 -> 4.30
    call_page = fm.get(f"/grants/selection/calls/{call_id}").get_data(as_text=True)
    assert "38,500.00 USD" in call_page and "1,000,000.00 USD" in call_page and "100,000.00 USD" in call_page

    # Recorded (and the organisation told) only once the box "I confirm" is ticked
    resp = fm.submit(f"/grants/applications/{app_id}/decision", {"outcome": "approved", "amount": "35000"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="confirm-error"' in html and "Tick the box to confirm" in html
    assert 'value="35000"' in html and 'value="approved" checked' in html  # nothing typed is lost
    with app.app_context():
        assert db.session.get(Application, app_id).status == "under_review"
    resp = fm.submit(f"/grants/applications/{app_id}/decision",
                     {"outcome": "approved", "amount": "35000", "confirm": "yes"})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(Application, app_id).status == "approved"
        applicant = db.session.get(User, applicant_id)
        db.session.expunge(applicant)
    home = login_as(applicant).get("/grants/portal").get_data(as_text=True)
    assert "Décision du Conseil" in home and "Approuvée : une subvention de 35" in home
    assert "Fatima" not in home and "Kwame" not in home and "4,30" not in home and "4.30" not in home
    with app.app_context():
        from fund.mail import OutboxMessage

        mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.recipient == applicant.email,
                                                              OutboxMessage.kind == "grants:decision_approved")
                                  ).scalar_one()
        assert "Le Conseil d'administration a approuvé la candidature" in mail.body_text
