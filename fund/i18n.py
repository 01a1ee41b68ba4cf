"""Translation outside templates: the reader's language in a request, the English text elsewhere."""

from flask import has_request_context
from flask_babel import gettext


def translate(message: str, **values) -> str:
    """gettext in a request (the reader's language); the English text elsewhere (CLI, jobs, direct calls)."""
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message
