"""Portal pages of grants awarded: the grantee dashboard, a grant (agreement, tranches, payments, reports,
refunds, history), the report form, and the finance screens (approval queue, payments to record, cash
forecast).

Plain HTML forms that work without JavaScript, parsed with marshmallow; a refused action re-shows the page
with the reason (409 for the state of things, 422 beside the fields for what was typed).

The pages are grouped by topic (:mod:`.grant_pages`, :mod:`.payment_pages`, :mod:`.report_pages`), each
registering on the one blueprint :data:`bp` (:mod:`.common`), so endpoint names are ``grants_awards.<view>``.
"""

from grants.awards.views import grant_pages, payment_pages, report_pages  # noqa: F401  (routes on bp)
from grants.awards.views.common import bp

__all__ = ["bp"]
