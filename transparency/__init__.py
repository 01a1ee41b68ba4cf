"""The fund's public face and open data: public transparency pages (the fund in figures, grants, results, how to
contribute), IATI 2.03 activity and organisation files, and the staff exports (XLSX and CSV).

It reads the platform (``fund``), the grants and the donors packages and sits at the top of the imports: nothing
imports it but ``create_app``. Every result it publishes comes from one suppressed table
(:mod:`transparency.publication`), which it also registers with :mod:`fund.disclosure` so that donor statements are
suppressed beside the public figures.
"""

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    from fund.disclosure import register_publication
    from fund.models import ADMIN, AUDITOR, FINANCE_OFFICER, FUND_MANAGER
    from fund.views import dashboard_link
    from transparency.exports import bp as exports_bp
    from transparency.iati import bp as iati_bp
    from transparency.publication import provider
    from transparency.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(iati_bp)
    app.register_blueprint(exports_bp)
    register_publication(provider)
    dashboard_link(app, {FINANCE_OFFICER, FUND_MANAGER, ADMIN, AUDITOR}, "exports.index", _l("Exports (XLSX, CSV)"))
