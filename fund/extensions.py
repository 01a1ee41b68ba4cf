"""Extension objects, created unbound and initialised in create_app."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_security import Security
from flask_wtf import CSRFProtect

from fund.db import db, render_migration_item
from fund.mail import OutboxMailUtil
from fund.security_utils import FundPasswordUtil, FundTotp

migrate = Migrate(compare_type=True, render_as_batch=True, render_item=render_migration_item)
babel = Babel()
security = Security(mail_util_cls=OutboxMailUtil, totp_cls=FundTotp, password_util_cls=FundPasswordUtil)
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

__all__ = ["db", "migrate", "babel", "security", "csrf", "limiter"]


from flask_smorest import Api as _SmorestApi  # noqa: E402


class FundApi(_SmorestApi):
    """flask-smorest without its app-wide error handler: fund.errors renders every error (JSON under /api/), and
    the document says so (one error schema; the error responses of each operation, see fund.openapi)."""

    from fund.schemas import ErrorSchema as ERROR_SCHEMA

    def _register_error_handlers(self):
        pass

    def _init_spec(self, **kwargs):
        from fund.openapi import ErrorResponses

        kwargs["extra_plugins"] = [*(kwargs.get("extra_plugins") or ()), ErrorResponses()]
        super()._init_spec(**kwargs)


api = FundApi()
__all__.append("api")
