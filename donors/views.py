"""Portal pages of the donors package."""

from flask import Blueprint

bp = Blueprint("donors", __name__, url_prefix="/donors")
