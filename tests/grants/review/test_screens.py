"""The selection's screens as reviewers and the fund manager read them: the review form names each criterion and
defines the 1-5 scale (in English and French), every group of radios is a fieldset with a legend and each radio
has its own label; counts agree with their number; the assignment form goes when nobody is left to assign; the
Board's decision needs a confirmation; the decision sheet is a portal page (header, navigation, language) and a
PDF; a decided application never shows an empty Decision."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlalchemy import select

from fund.db import db
from fund.models import User
from grants import operations as grant_ops
from grants.models import Application
from tests.grants import factories as f
from tests.grants.review import factories as rf


class Radios(HTMLParser):
    """Every radio with the fieldset legend around it and the label that follows it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.legends: list[str] = []
        self.in_legend = False
        self.fieldsets = 0
        self.radios: list[dict] = []
        self.labels: dict[str, str] = {}
        self.label_for: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "fieldset":
            self.fieldsets += 1
            self.legends.append("")
        elif tag == "legend":
            self.in_legend = True
        elif tag == "input" and a.get("type") == "radio":
            self.radios.append({"id": a.get("id"), "name": a.get("name"), "value": a.get("value"),
                                "legend": self.legends[-1] if self.fieldsets else None})
        elif tag == "label":
            self.label_for = a.get("for")
            if self.label_for:
                self.labels[self.label_for] = ""

    def handle_endtag(self, tag):
        if tag == "fieldset":
            self.fieldsets -= 1
        elif tag == "legend":
            self.in_legend = False
        elif tag == "label":
            self.label_for = None

    def handle_data(self, data):
        if self.in_legend and self.legends:
            self.legends[-1] += data
        if self.label_for:
            self.labels[self.label_for] += data


def radios_of(html: str) -> Radios:
    parser = Radios()
    parser.feed(html)
    for r in parser.radios:
        assert r["legend"] and r["legend"].strip(), f"radio {r['id']} outside a fieldset with a legend"
        assert r["id"] in parser.labels and parser.labels[r["id"]].strip(), f"radio {r['id']} without its label"
        # the label comes right after its radio: <input ...><label for=...>
        assert re.search(rf'<input[^>]*id="{re.escape(r["id"])}"[^>]*>\s*<label for="{re.escape(r["id"])}"', html)
    return parser


def open_review(me: User):
    application = rf.under_review(reviewers=[me, rf.reviewer("Other")])
    review = rf.review_of(application, me)
    from grants.review import operations

    operations.declare_conflict(review, False, None, db.session.get(User, me.id))
    return review.id


def test_the_review_form_names_each_criterion_and_defines_the_scale(app, login_as, make_user, within):
    me = make_user("reviewer")
    review_id = within(lambda: open_review(me))
    client = login_as(me)
    html = client.get(f"/grants/reviews/{review_id}").get_data(as_text=True)
    assert "Write a comment." not in html
    assert html.count("Comment on “Relevance”") == 1 and html.count("Comment on “Feasibility”") == 1
    assert "1 = poor, 2 = weak, 3 = adequate, 4 = good, 5 = excellent" in html
    assert "Fields marked * are needed to submit" in html
    parsed = radios_of(html)
    scores = [r for r in parsed.radios if r["name"].startswith("score-")]
    assert len(scores) == 10
    assert {r["legend"].split("*")[0].strip() for r in scores} == {"Score for “Relevance”", "Score for “Feasibility”"}
    assert parsed.labels[scores[0]["id"]] == "1 – Poor" and parsed.labels[scores[4]["id"]] == "5 – Excellent"
    # Required to submit: marked, and the browser's check skipped by "Save" only
    assert re.search(r'<label for="f-comment-\d+">Comment on “Relevance” <span aria-hidden="true">\*</span>', html)
    assert 'value="save" formnovalidate' in html and 'value="submit" formnovalidate' not in html
    # Submitting too early: each message names its criterion, beside its field
    resp = client.submit(f"/grants/reviews/{review_id}", {"action": "submit"})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "Score “Relevance” from 1 to 5." in body and "Write a comment on “Feasibility”." in body
    assert re.search(r'id="score-\d+-error"', body) and re.search(r'id="comment-\d+-error"', body)
    # In French
    client.submit("/language", {"lang": "fr", "next": "/"}, page="/dashboard")
    html = client.get(f"/grants/reviews/{review_id}").get_data(as_text=True)
    assert "1 = insuffisant, 2 = faible, 3 = satisfaisant, 4 = bon, 5 = excellent" in html
    assert "Commentaire sur «\u00a0Pertinence\u00a0»" in html and "Note pour «\u00a0Faisabilité\u00a0»" in html
    # Once submitted, the assessment reads as text: nothing left to edit
    first, second = dict.fromkeys(re.findall(r'name="score-(\d+)"', html))
    resp = client.submit(f"/grants/reviews/{review_id}", {
        f"score-{first}": "4", f"comment-{first}": "Strong referral network.", f"score-{second}": "2",
        f"comment-{second}": "Staffing is thin.", "recommendation": "fund", "action": "submit"})
    assert resp.status_code == 302
    html = client.get(f"/grants/reviews/{review_id}").get_data(as_text=True)
    assert "4 – Bon" in html and "2 – Faible" in html and "Strong referral network." in html
    assert "<textarea" not in html and 'type="radio"' not in html and "<select" not in html.split("<main")[1]


def test_screening_radios_sit_in_fieldsets_beside_their_labels(app, login_as, within):
    app_id = within(lambda: rf.submitted().id)
    html = login_as("fund_manager").get(f"/grants/applications/{app_id}/screening").get_data(as_text=True)
    parsed = radios_of(html)
    results = [r for r in parsed.radios if r["name"].endswith("-result")]
    assert len(results) == 7 * 3
    assert "Safeguarding / PSEA policy" in {r["legend"].strip().rstrip("*").strip() for r in results}
    outcome = [r for r in parsed.radios if r["name"] == "outcome"]
    assert [parsed.labels[r["id"]] for r in outcome] == ["Save the checklist only", "Eligible", "Ineligible",
                                                          "Returned for information"]
    assert "Note on “Safeguarding / PSEA policy”" in html


def test_counts_agree_with_their_number(app, login_as, within):
    def setup():
        application = rf.submitted()
        return application.id, application.call_id

    app_id, call_id = within(setup)
    fm = login_as("fund_manager")
    queue = fm.get(f"/grants/selection/screening?call_id={call_id}").get_data(as_text=True)
    assert "1 application to screen" in queue and "1 applications" not in queue
    ranking = fm.get(f"/grants/selection/calls/{call_id}/ranking").get_data(as_text=True)
    assert "0 applications" in ranking


def test_the_assignment_form_goes_when_every_reviewer_is_assigned(app, login_as, make_user, within):
    from fund.models import REVIEWER, Role

    def setup():
        # every active reviewer of the database is assigned to this application
        application = rf.eligible()
        everyone = db.session.execute(select(User).join(User.roles).where(Role.name == REVIEWER,
                                                                          User.active.is_(True))).scalars().all()
        if everyone:
            rf.assigned(application, *everyone)
        return application.id

    make_user("reviewer", name="Only Reviewer")
    app_id = within(setup)
    page = login_as("fund_manager").get(f"/grants/applications/{app_id}/reviewers").get_data(as_text=True)
    assert "Every reviewer is already assigned." in page
    assert 'name="user_ids"' not in page and ">Assign</button>" not in page
    assert "Only Reviewer" in page  # in the table of those assigned

    new = make_user("reviewer", name="Newcomer")
    page = login_as("fund_manager").get(f"/grants/applications/{app_id}/reviewers").get_data(as_text=True)
    assert "Every reviewer is already assigned." not in page and f'value="{new.id}"' in page


def test_the_decision_sheet_is_a_portal_page_and_still_a_pdf(app, login_as, within):
    def setup():
        rf.fund_cash("100000.00")
        return rf.under_review(scores=[[4, 4], [5, 3]]).call_id

    call_id = within(setup)
    fm = login_as("fund_manager")
    html = fm.get(f"/grants/selection/calls/{call_id}/decisions").get_data(as_text=True)
    assert '<nav aria-label="Main">' in html and 'name="lang"' in html and html.count("<h1") == 1
    assert "Decision sheet" in html and "Download as PDF" in html and "4.10" in html
    fm.submit("/language", {"lang": "fr", "next": "/"}, page="/dashboard")
    html = fm.get(f"/grants/selection/calls/{call_id}/decisions").get_data(as_text=True)
    assert '<html lang="fr">' in html and "Fiche de décision" in html
    pdf = fm.get(f"/grants/selection/calls/{call_id}/decisions.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")


def test_a_decided_application_never_shows_an_empty_decision(app, login_as, within):
    def setup():
        rf.fund_cash("100000.00")
        decided = rf.under_review(scores=[[4, 4], [5, 3]])
        from grants.review import operations

        operations.decide(decided, {"outcome": "approved", "amount": decided.requested_amount}, f.manager())
        # approved by the bare workflow transition, as the demonstration data once did: no Decision row
        bare = rf.under_review(call=decided.call, scores=[[3, 3], [3, 3]])
        grant_ops.transition(bare, "recommend", f.manager())
        grant_ops.transition(bare, "approve", f.manager())
        return decided.call_id, decided.reference, bare.reference

    call_id, decided_ref, bare_ref = within(setup)
    fm = login_as("fund_manager")
    html = fm.get(f"/grants/selection/calls/{call_id}/ranking").get_data(as_text=True)
    rows = {ref: row for row in re.findall(r"<tr.*?</tr>", html, re.S) for ref in (decided_ref, bare_ref)
            if ref in row}
    assert "Approved 38,500.00 USD" in re.sub(r"\s+", " ", rows[decided_ref].replace("\u00a0", " "))
    assert "Approved" in rows[bare_ref] and "no Board decision recorded" in rows[bare_ref]
    sheet = fm.get(f"/grants/selection/calls/{call_id}/decisions").get_data(as_text=True)
    assert "no Board decision recorded" in sheet
    with app.app_context():
        assert db.session.execute(select(Application.status).where(Application.reference == bare_ref)
                                  ).scalar_one() == "approved"
