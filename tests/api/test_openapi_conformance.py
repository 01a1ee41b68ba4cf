"""The service against its OpenAPI document: schemathesis generates requests for every operation from the
document and sends each one with an applicant's token and staff tokens (fund manager, finance officer). No
response may be a server error, and every response must be one the document lists for the operation, with the
media type and the body it documents (the error body included, and every enum of the output).

Two phases: the coverage phase's boundary values first (each parameter at its bounds, each enum member, each sort
field ascending and descending...), in the full pass only, then 6 generated examples per operation. On SQLite, about
100 s of CPU for the whole document with both phases (-p no:xdist), half of it without the coverage phase."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.live import rounds

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
ROLES = ("applicant", "fund_manager", "finance_officer")


def _document() -> dict:
    """The document as the service publishes it (an application of the same code, without a database)."""
    from fund import create_app

    spec_app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SERVER_NAME": "localhost"})
    return spec_app.test_client().get("/api/v1/openapi.json").get_json()


#: The coverage phase (schemathesis's boundary values: each parameter's minimum and maximum, lengths, enum members,
#: ...) runs before the generated examples in the full pass (``make test-full``, .ci/run's PostgreSQL run); the
#: everyday ``make test`` runs the generated examples only. Coverage uses valid data only: invalid data is the
#: generated phase's and the field tests' business, and sending undocumented methods to every path would multiply the
#: run for 405s.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"generation": {"mode": "positive"},
                                                               "unexpected-methods": []}}})
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


def _known_ids(case, fund) -> None:
    """Half of the generated ids are replaced by ids of real records, so that operations act on something."""
    for name, value in list((case.path_parameters or {}).items()):
        known = fund.ids.get(name)
        if known and isinstance(value, int) and value % 2 == 0:
            case.path_parameters[name] = known[value // 2 % len(known)]


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True,
          phases=rounds(full=[Phase.explicit, Phase.generate], light=[Phase.generate]),
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case, app, seeded_fund):
    _known_ids(case, seeded_fund)
    for role in ROLES:
        case.call_and_validate(headers=seeded_fund.headers[role], checks=CHECKS, app=app)
