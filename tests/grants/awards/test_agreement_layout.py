"""The agreement's figures in its language: shares with the French decimal comma and a no-break space before
the percent sign, the English way in English."""

from __future__ import annotations

import re

from flask_babel import force_locale

from fund.db import db
from grants.awards.agreement import agreement_context
from grants.awards.models import Grant


def test_the_agreement_writes_percentages_in_its_language(app, world):
    w = world()
    for lang, pattern in (("fr", r"\d+(,\d+)?\u00a0%"), ("en", r"\d+(\.\d+)?%")):
        with app.test_request_context(), force_locale(lang):
            context = agreement_context(db.session.get(Grant, w.grant_id), lang)
        shares = [row["share"] for row in context["budget"]] + [t["share"] for t in context["tranches"]]
        assert shares and all(re.fullmatch(pattern, s) for s in shares), shares
        assert any(re.search(r"\d[.,]\d", s) for s in shares)  # the budget's shares have decimals here


def test_the_signature_block_is_never_left_apart_from_its_heading(app, world, login_as):
    """Whatever the page breaks, "Signatures" is printed on the same page as the block to sign, and the budget's
    total once."""
    import io

    from pypdf import PdfReader

    w = world()
    client = login_as(w.applicant)
    for lang, heading, block in (("fr", "Signatures", "Pour l'organisation"), ("en", "Signatures",
                                                                              "For the organisation")):
        pdf = client.get(f"/grants/awards/{w.grant_id}/agreement.pdf?lang={lang}")
        assert pdf.status_code == 200
        pages = [re.sub(r"\s+", " ", p.extract_text()) for p in PdfReader(io.BytesIO(pdf.data)).pages]
        with_heading = [i for i, text in enumerate(pages) if re.search(rf"\b{heading}\b", text)]
        assert with_heading and all(block in pages[i] for i in with_heading), (lang, with_heading)
