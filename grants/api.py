"""JSON API of the grants package."""

from flask_smorest import Blueprint

blp = Blueprint("grants_api", __name__, url_prefix="/api/v1", description="Grants")
