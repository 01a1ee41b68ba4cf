"""JSON API of the donors package."""

from flask_smorest import Blueprint

blp = Blueprint("donors_api", __name__, url_prefix="/api/v1", description="Donors")
