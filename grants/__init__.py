"""Grants: calls for proposals, organisations, applications, screening, review, decisions, grants."""

from flask import Flask


def init_app(app: Flask) -> None:
    from fund.extensions import api, csrf
    from grants.api import blp as api_blp
    from grants.views import bp

    app.register_blueprint(bp)
    api.register_blueprint(api_blp)
    csrf.exempt(api_blp)
