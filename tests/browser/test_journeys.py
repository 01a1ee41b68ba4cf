"""The seven journeys of the portal's users, in a real browser with JavaScript off: each clicks through the real
pages and forms (no request is sent that a page does not send) and checks what the person sees at each step.
What happens between two people's turns (the Board's decision, a colleague's countersignature) is seeded through
the operations, as those people would have done it on their own pages.

- a French-speaking NGO: registration to submission, then, awarded, the agreement and its first report (also on a
  390 x 844 phone, where no page may scroll sideways);
- a reviewer: declares no conflict of interest, scores, submits;
- the fund manager: signs in with the second factor (the code computed with pyotp from the seeded key, as an
  authenticator app does), screens an application, countersigns an agreement;
- a pair of finance officers: one requests a payment, the other approves it (the first may not), the first pays;
- a donor: reads the statement of contributions and issues it;
- a grantee: signs the agreement, submits the interim report;
- an auditor: reads the audit trail and verifies its chain.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from fund.db import db
from fund.demo import enable_totp
from fund.mail import OutboxMessage
from fund.models import User
from tests.browser.test_accessibility import violations
from tests.conftest import PASSWORD
from tests.grants import factories as gf
from tests.test_french_pages import english_texts, raw_codes, untranslated

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


class Walk:
    """A person's tab: every page they reach is checked (no sideways scrolling on a phone; in French, no English
    text of the catalogs and no word of the code) and remembered."""

    def __init__(self, page, phone: bool = False, french: bool = False):
        self.page, self.phone, self.visited = page, phone, []
        self.english = english_texts() if french else None

    def sees(self, *texts: str, h1: str | None = None) -> str:
        page = self.page
        page.wait_for_load_state("load")  # after a click, the new page's stylesheet may still be on its way
        main = page.locator("main").inner_text().replace("\u202f", " ").replace("\xa0", " ")
        for text in texts:
            assert text in main, f"{page.url}: {text!r} not in\n{main[:3000]}"
        if h1 is not None:
            assert h1 in page.locator("h1").inner_text(), f"{page.url}: h1 is {page.locator('h1').inner_text()!r}"
        if self.english is not None and page.locator("html").get_attribute("lang") == "fr":
            html = page.content()
            assert untranslated(html, self.english) == [], f"{page.url}: English on a French page"
            assert raw_codes(html) == [], f"{page.url}: words of the code on a French page"
        if self.phone:
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{page.url} scrolls sideways on a phone: {width[0]} px > {width[1]} px"
        if not self.visited or self.visited[-1] != page.url:
            self.visited.append(page.url)
        return main

    def goto(self, url: str):
        self.page.goto(url)
        self.sees()
        return self

    def click(self, role: str, name: str, *, exact: bool = False):
        """Follow a link or press a button; the page it leads to is checked."""
        self.page.get_by_role(role, name=name, exact=exact).first.click()
        self.sees()
        return self

    def fill(self, data: dict):
        """Fill the page's fields named in ``data`` (a list ticks the checkboxes or options of those values)."""
        for name, value in data.items():
            field = self.page.locator(f'main [name="{name}"]')
            kind = field.first.evaluate("el => el.tagName.toLowerCase() + ':' + (el.type || '')")
            if kind.startswith("select"):
                field.first.select_option(value)
            elif kind.endswith(":checkbox") or kind.endswith(":radio"):
                for v in value if isinstance(value, list) else [value]:
                    self.page.locator(f'main [name="{name}"][value="{v}"]').check()
            elif kind.endswith(":file"):
                field.first.set_input_files(value)
            else:
                field.first.fill(value)
        return self


def tab(browser, server, viewport=DESKTOP, locale="en-GB"):
    context = browser.new_context(java_script_enabled=False, base_url=server.url, locale=locale, viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(20000)
    return context, page


def sign_in(walk: Walk, email: str, totp_key: str | None = None):
    page = walk.page
    walk.goto("/account/login")
    page.locator('[name="email"]').fill(email)
    page.locator('[name="password"]').fill(PASSWORD)
    page.locator('main form [type="submit"]').first.click()
    if totp_key:
        assert "/account/tf-validate" in page.url, page.url
        page.locator('[name="code"]').fill(pyotp.TOTP(totp_key).now())
        page.locator('main form [type="submit"]').first.click()
    assert page.url.endswith("/dashboard"), f"{email} not signed in: {page.url}"


def seeded(app, fn):
    """Run ``fn`` as the operations run in a request (messages in its language), commit, return its result."""
    with app.test_request_context():
        result = fn()
        db.session.commit()
        return result


def staff(app, role: str, name: str) -> tuple[User, str]:
    """A staff member with an authenticator: the user and the key their app was given."""
    from fund import operations

    with app.app_context():
        user = operations.create_user(f"{name}@vtf.example.org", role, PASSWORD, name=name.title())
        key = enable_totp(user).replace("-", "").replace(" ", "")
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        return user, key


def files(tmp_path: Path) -> dict:
    (tmp_path / "politique.pdf").write_bytes(gf.PDF_BYTES)
    (tmp_path / "signed.pdf").write_bytes(gf.PDF_BYTES)
    (tmp_path / "budget.xlsx").write_bytes(gf.office_bytes("xl"))
    return {p.name: str(p) for p in tmp_path.iterdir()}


def test_the_phone_check_finds_a_page_wider_than_the_screen(browser, server):
    context, page = tab(browser, server, PHONE)
    try:
        page.set_content(f'<html lang="en"><body><main><h1>Wide</h1><p>{"x" * 300}</p></main></body></html>')
        with pytest.raises(AssertionError, match="scrolls sideways"):
            Walk(page, phone=True).sees("Wide")
        page.set_content('<html lang="en"><body><main><h1>Narrow</h1><p>Text that wraps.</p></main></body></html>')
        Walk(page, phone=True).sees("Narrow")
    finally:
        context.close()


# --- 1. A French-speaking NGO, from registration to submission, then to its first report ------------------------

ORGANISATION = {
    "name": "Association Espoir", "acronym": "AE", "org_type": "ngo", "country": "SN",
    "registration_number": "SN-2012-1234", "registration_date": "2012-05-14", "year_established": "2012",
    "years_direct_assistance": "5", "address": "12 rue des Jardins, Dakar", "website": "https://ae.example.org",
    "contact_name": "Awa Traoré", "contact_email": "awa@ae.example.org", "contact_phone": "+221 33 000 00 00",
    "bank_account_holder": "Association Espoir", "bank_name": "Banque de Dakar",
    "bank_account_number": "GB82 WEST 1234 5698 7654 32", "bank_swift": "BDAKSNDA",
}


def award(app, application_id: int) -> int:
    """What the fund does between the submission and the agreement: screening, review, the Board's approval, the
    grant (money in the fund first)."""
    from grants import operations as grant_ops
    from grants.awards import operations as award_ops
    from grants.models import Application
    from tests.grants.awards import factories as af

    def do():
        af.fund_cash()
        application = db.session.get(Application, application_id)
        fm = gf.manager()
        for trigger in ("declare_eligible", "start_review", "recommend"):
            grant_ops.transition(application, trigger, fm)
        grant = award_ops.create_grant(application, application.requested_amount, actor=fm)
        grant_ops.transition(application, "approve", fm)
        return grant.id

    return seeded(app, do)


def countersign(app, grant_id: int) -> None:
    from grants.awards import operations as award_ops
    from grants.awards.models import Grant

    seeded(app, lambda: award_ops.countersign(db.session.get(Grant, grant_id), gf.manager()))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_french_speaking_ngo_applies_then_reports(app, browser, server, tmp_path, viewport):
    call_id = seeded(app, lambda: gf.make_call().id)
    email = "awa@ae.example.org"
    paths = files(tmp_path)
    context, page = tab(browser, server, viewport, locale="fr-FR")
    walk = Walk(page, phone=viewport is PHONE, french=True)
    try:
        # The home page in French, the open call, registration.
        walk.goto("/")
        page.get_by_label("Language").or_(page.get_by_label("Langue")).select_option("fr")
        page.locator("form.lang [type=submit]").click()
        assert page.locator("html").get_attribute("lang") == "fr"
        walk.sees()
        walk.goto("/grants/calls")
        walk.sees("Assistance à moyen terme")
        page.get_by_role("link", name="Assistance à moyen terme").first.click()
        walk.sees("S'inscrire")
        walk.click("link", "S'inscrire")
        walk.fill({"email": email, "password": PASSWORD, "password_confirm": PASSWORD})
        page.locator('main form [type="submit"]').first.click()
        assert "/account/login" in page.url
        walk.sees()
        # The confirmation link e-mailed to the address, in French.
        with app.app_context():
            body = db.session.execute(select(OutboxMessage.body_text).where(OutboxMessage.recipient == email)
                                      ).scalar_one()
        walk.goto(re.search(r"https?://[^/\s]+(/account/confirm/\S+)", body).group(1))
        sign_in(walk, email)
        walk.sees("Votre organisation et vos candidatures")

        # The organisation's profile and its safeguarding policy.
        walk.goto("/grants/portal")
        walk.sees()
        walk.click("link", "Créer le profil de votre organisation")
        walk.fill(ORGANISATION)
        page.locator("main form [type=submit]").last.click()
        walk.sees("Association Espoir", "•••• 5432")
        walk.fill({"file": paths["politique.pdf"]})
        walk.click("button", "Téléverser la politique")
        walk.sees("politique.pdf")

        # The application, section by section.
        walk.goto(f"/grants/calls/{call_id}")
        walk.click("button", "Commencer une candidature")
        walk.sees("Enregistrer le brouillon")
        walk.fill({"project_title": "Retour sûr", "summary": "Hébergement et aide juridique.",
                   "objectives": "120 survivants assistés."})
        walk.click("button", "Enregistrer et continuer")
        assert page.url.endswith("/sections/location"), page.url
        walk.fill({"countries": ["SN"], "locations": "Dakar", "start_date": "2027-09-01", "duration_months": "18"})
        walk.click("button", "Enregistrer et continuer")
        walk.fill({"forms_of_exploitation": ["forced_labour", "domestic_servitude"],
                   "assistance_types": ["shelter", "legal_counselling"]})
        walk.click("button", "Enregistrer et continuer")
        walk.fill({"b-female-18-24": "40", "b-male-25-59": "12"})
        walk.click("button", "Enregistrer et continuer")
        walk.fill({"identification_referral": "Orientation par l'inspection du travail.",
                   "partners": "Ministère du Travail.", "risks_safeguarding": "Dossiers confidentiels.",
                   "monitoring_plan": "Suivi trimestriel."})
        walk.click("button", "Enregistrer et continuer")
        # A mistake in the budget: the message beside the field, what was typed kept.
        walk.fill({"line-0-category": "personnel", "line-0-description": "Travailleurs sociaux",
                   "line-0-quantity": "trente", "line-0-unit_cost": "600,00"})
        walk.click("button", "Enregistrer et continuer")
        walk.sees("Cette valeur n'est pas valide.")
        assert page.locator('[name="line-0-description"]').input_value() == "Travailleurs sociaux"
        if not walk.phone:  # a form with its errors: a state the route matrix never renders
            assert [line for _rule, line in violations(page)] == []
        walk.fill({"line-0-quantity": "36", "line-1-category": "indirect", "line-1-description": "Administration",
                   "line-1-quantity": "1", "line-1-unit_cost": "1 000,00"})
        walk.click("button", "Enregistrer et continuer")
        assert page.url.endswith("/sections/documents"), page.url
        walk.fill({"kind": "budget_workbook", "file": paths["budget.xlsx"]})
        walk.click("button", "Téléverser", exact=True)
        walk.sees("budget.xlsx")
        walk.click("link", "Vérifier et soumettre")
        walk.sees("22 600,00", "Liste de contrôle")
        walk.click("button", "Soumettre la candidature")
        done = walk.sees("Votre candidature a été soumise. Référence :", "Reçue")
        reference = re.search(r"VTF-\d{4}-SGP2-\d{4}", done).group(0)
        application_id = int(re.search(r"/applications/(\d+)", page.url).group(1))

        # Awarded: the agreement to sign, then the first report.
        grant_id = award(app, application_id)
        walk.goto("/grants/awards/")
        walk.sees("Vos subventions", "22 600,00")
        walk.goto(f"/grants/awards/{grant_id}")
        walk.fill({"file": paths["signed.pdf"]})
        walk.click("button", "Téléverser", exact=True)
        walk.sees("L'accord signé a été déposé. Le Fonds va le contresigner.", "Signé par l'organisation le")
        countersign(app, grant_id)
        walk.goto("/grants/awards/")
        walk.sees("Rapport intermédiaire")
        walk.click("link", "Rapport intermédiaire")
        walk.fill({"activities": "Hébergement et conseil juridique pour 10 survivantes.",
                   "sa-female-18-24": "10", "form-forced_labour": "10", "as-shelter": "10",
                   "country-0-code": "SN", "country-0-count": "10"})
        walk.click("button", "Enregistrer le rapport")
        walk.sees("Le rapport a été enregistré.", "Rapport intermédiaire")
        assert page.get_by_label("Activités menées").input_value().startswith("Hébergement et conseil juridique")
        assert page.locator('[name="sa-female-18-24"]').input_value() == "10"
        assert reference
    finally:
        context.close()
    assert len(walk.visited) >= 20


# --- 2. A reviewer: no conflict of interest, scores, submits -----------------------------------------------------

def test_a_reviewer_declares_no_conflict_and_scores(app, browser, server, make_user):
    from tests.grants.review import factories as rf

    reviewer = make_user("reviewer", name="Trustee Okafor")
    def assigned():
        from grants import operations as grant_ops

        application = rf.eligible()
        rf.assigned(application, gf.user(reviewer))
        if application.status != "under_review":
            grant_ops.transition(application, "start_review", gf.manager())

    seeded(app, assigned)
    context, page = tab(browser, server)
    walk = Walk(page)
    try:
        sign_in(walk, reviewer.email)
        walk.click("link", "Applications to review")
        walk.sees("Association Espoir", "Your assignments", h1="Applications to review")
        walk.click("link", "Association Espoir")
        walk.sees(h1="Declaration of conflicts of interest")
        assert "Safe return" not in page.locator("main").inner_text()  # nothing of the application before
        page.get_by_label("No, I have no conflict of interest").check()
        walk.click("button", "Declare", exact=True)
        walk.sees("Thank you. The application is open for your review.", h1="Review")
        criteria = page.locator("main fieldset.choices")
        assert criteria.count() >= 2
        for i in range(criteria.count()):
            criteria.nth(i).locator('input[type=radio][value="4"]').check()
        for comment in page.locator('main textarea[name^="comment-"]').all():
            comment.fill("Clear referral pathway; realistic budget.")
        page.get_by_label("Overall recommendation").select_option(index=1)
        walk.click("button", "Save and submit")
        walk.sees("Your review has been submitted. Thank you.")
        walk.click("link", "Dashboard")
        walk.click("link", "Applications to review")
        walk.sees("No conflict", "Submitted")
    finally:
        context.close()


# --- 3. The fund manager, with the second factor: screening, countersignature ------------------------------------

def test_the_fund_manager_signs_in_with_totp_screens_and_countersigns(app, browser, server):
    from grants.awards import operations as award_ops
    from tests.grants.awards import factories as af
    from tests.grants.review import factories as rf

    manager, key = staff(app, "fund_manager", "manager")
    reference = seeded(app, lambda: rf.submitted(name="Fondation Lumière").reference)

    def signed_grant():
        grant = af.make_grant()
        award_ops.upload_signed_agreement(grant, gf.check_bytes(gf.PDF_BYTES, "signed.pdf"), af.member(grant))
        return grant.number

    number = seeded(app, signed_grant)
    context, page = tab(browser, server)
    walk = Walk(page)
    try:
        walk.goto("/account/login")
        page.locator('[name="email"]').fill(manager.email)
        page.locator('[name="password"]').fill(PASSWORD)
        page.locator('main form [type="submit"]').first.click()
        walk.sees()  # the second step: the code of the authenticator app
        assert "/account/tf-validate" in page.url
        assert [line for _rule, line in violations(page)] == []  # a library page the route matrix does not list
        code = pyotp.TOTP(key)
        wrong = next(c for c in ("000000", "111111", "222222") if not code.verify(c, valid_window=5))
        page.get_by_label("Authentication Code").fill(wrong)
        page.locator('main form [type="submit"]').first.click()
        assert "/dashboard" not in page.url  # a wrong code does not sign in
        page.get_by_label("Authentication Code").fill(code.now())
        page.locator('main form [type="submit"]').first.click()
        walk.sees(manager.email, h1="Dashboard")

        walk.click("link", "Screening queue")
        walk.sees(reference, h1="Screening queue")
        walk.click("link", reference)
        walk.sees("Fondation Lumière")
        items = page.locator("main fieldset.choices")
        for i in range(items.count()):
            passed = items.nth(i).locator('input[type=radio][value="pass"]')
            if passed.count():
                passed.check()
        page.locator('main input[name="outcome"][value="eligible"]').check()
        walk.click("button", "Record the screening")
        walk.sees("Eligible")

        walk.click("link", "Dashboard")
        walk.click("link", "Grants", exact=True)
        walk.sees(number)
        walk.click("link", number)
        walk.sees("Pending signature")
        page.locator("main form.action button").filter(has_text="Countersign").first.click()
        walk.sees("Active")
    finally:
        context.close()


# --- 4. Two finance officers: one requests and pays, the other approves ------------------------------------------

def active_grant(app) -> tuple[int, str]:
    from grants.awards import operations as award_ops
    from tests.grants.awards import factories as af

    def do():
        grant = af.make_grant()
        award_ops.upload_signed_agreement(grant, gf.check_bytes(gf.PDF_BYTES, "signed.pdf"), af.member(grant))
        award_ops.countersign(grant, gf.manager())
        return grant.id, grant.number

    return seeded(app, do)


def test_two_finance_officers_request_approve_and_pay(app, browser, server):
    first, first_key = staff(app, "finance_officer", "officer-a")
    second, second_key = staff(app, "finance_officer", "officer-b")
    grant_id, number = active_grant(app)
    ctx_a, page_a = tab(browser, server)
    ctx_b, page_b = tab(browser, server)
    a, b = Walk(page_a), Walk(page_b)
    try:
        sign_in(a, first.email, first_key)
        a.click("link", "Grants", exact=True)
        a.click("link", number)
        page_a.get_by_text("Request a payment", exact=True).click()  # a <details>: opens without JavaScript
        a.fill({"tranche": "1", "amount": "26950.00"})
        a.click("button", "Request the payment")
        a.sees("26,950.00", "Requested")
        a.click("link", "Dashboard")
        a.click("link", "Disbursements to approve")
        a.sees("Nothing to approve.", "Your own requests, waiting for a colleague", number)
        assert page_a.get_by_role("button", name="Approve").count() == 0  # four eyes: not one's own request

        sign_in(b, second.email, second_key)
        b.click("link", "Disbursements to approve")
        b.sees(number, "26,950.00")
        b.click("button", "Approve", exact=True)
        b.sees("Nothing to approve.")

        a.click("link", "Dashboard")
        a.click("link", "Payments to record")
        a.sees(number, "26,950.00")
        a.fill({"payment_reference": "BANK-2026-0042", "paid_on": dt.date.today().isoformat()})
        a.click("button", "Record as paid")
        a.goto(f"/grants/awards/{grant_id}")
        a.sees("BANK-2026-0042", "Paid")
    finally:
        ctx_a.close()
        ctx_b.close()


# --- 5. A donor: the statement of contributions and what they paid for -------------------------------------------

def test_a_donor_reads_and_issues_its_statement(app, browser, server, make_user):
    from tests.donors import factories as df

    donor_user = make_user("donor")

    def do():
        df.currencies()
        donor = df.donor("Kingdom of Norway")
        df.link(gf.user(donor_user, "donor"), donor)
        df.contribution(donor, "25000.00", "USD")
        return donor.id

    seeded(app, do)
    context, page = tab(browser, server)
    walk = Walk(page)
    try:
        sign_in(walk, donor_user.email)
        walk.click("link", "Statement and use of funds")
        walk.sees("Kingdom of Norway", h1="Statement and use of funds")
        today = dt.date.today()
        walk.fill({"from": today.replace(month=1, day=1).isoformat(), "to": today.isoformat()})
        walk.click("button", "Show", exact=True)
        walk.sees("25,000.00")
        walk.click("link", "Issue a numbered, verifiable statement")
        walk.sees(h1="Issued statements")
        walk.fill({"from": today.replace(month=1, day=1).isoformat(), "to": today.isoformat()})
        walk.click("button", "Issue the statement")
        text = walk.sees("issued.")
        number = re.search(r"Statement (\S+) issued\.", text).group(1)
        assert text.count(number) >= 2, text  # the message, and the row of the issued statements
    finally:
        context.close()


# --- 6. A grantee: signs the agreement, submits the interim report -----------------------------------------------

def test_a_grantee_signs_the_agreement_and_submits_a_report(app, browser, server, make_user, tmp_path):
    from tests.grants.awards import factories as af

    grantee = make_user("applicant")
    grant_id = seeded(app, lambda: af.make_grant(applicant=gf.user(grantee)).id)
    paths = files(tmp_path)
    context, page = tab(browser, server)
    walk = Walk(page)
    try:
        sign_in(walk, grantee.email)
        walk.click("link", "Your grants: payments and reports")
        walk.sees("38,500.00")
        page.locator(f'main a[href$="/grants/awards/{grant_id}"]').first.click()
        walk.sees("awaiting your signature", "Next step: sign the agreement.")
        with page.expect_download() as download:
            page.get_by_role("link", name="English (PDF)").click()
        assert download.value.suggested_filename.endswith(".pdf")
        walk.fill({"file": paths["signed.pdf"]})
        walk.click("button", "Upload", exact=True)
        walk.sees("The signed agreement has been uploaded")
        countersign(app, grant_id)

        walk.goto("/grants/awards/")
        walk.click("link", "Interim report")
        walk.fill({"activities": "Shelter, legal counselling and vocational training.",
                   "results_narrative": "Fifteen survivors were assisted; nine found work.",
                   "challenges": "Slow referrals in the rainy season.",
                   "lessons": "Peer support groups kept survivors in the programme.",
                   "consultation": "A survivors' committee met monthly.",
                   "sa-female-18-24": "15", "form-forced_labour": "15", "as-shelter": "15",
                   "country-0-code": "SN", "country-0-count": "15"})
        for row in page.locator('main tr:has(input[name^="spent-"])').all():  # spent as expected by now
            expected = row.locator("td.num").nth(1).inner_text().replace(",", "").split()[0]
            row.locator('input[name^="spent-"]').fill(expected)
        walk.click("button", "Submit the report")
        walk.sees("Submitted")
    finally:
        context.close()


# --- 7. An auditor: the audit trail and its verification ---------------------------------------------------------

def test_an_auditor_reads_and_verifies_the_audit_trail(app, browser, server):
    auditor, key = staff(app, "auditor", "auditor")
    active_grant(app)
    context, page = tab(browser, server)
    walk = Walk(page)
    try:
        sign_in(walk, auditor.email, key)
        walk.click("link", "Audit trail")
        text = walk.sees(h1="Audit trail")
        assert "grant" in text
        walk.click("button", "Verify the hash chain")
        walk.sees("The audit trail is intact:")
    finally:
        context.close()
