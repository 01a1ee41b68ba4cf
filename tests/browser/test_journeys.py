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

import re
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from fund.db import db
from fund.demo import enable_totp
from fund.mail import OutboxMessage
from fund.models import User
from tests.conftest import PASSWORD
from tests.grants import factories as gf

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


class Walk:
    """A person's tab: every page they reach is checked (no sideways scrolling on a phone) and remembered."""

    def __init__(self, page, phone: bool = False):
        self.page, self.phone, self.visited = page, phone, []

    def sees(self, *texts: str, h1: str | None = None) -> str:
        page = self.page
        main = page.locator("main").inner_text().replace("\u202f", " ").replace("\xa0", " ")
        for text in texts:
            assert text in main, f"{page.url}: {text!r} not in\n{main[:3000]}"
        if h1 is not None:
            assert h1 in page.locator("h1").inner_text(), f"{page.url}: h1 is {page.locator('h1').inner_text()!r}"
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
    walk = Walk(page, phone=viewport is PHONE)
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
