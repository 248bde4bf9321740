"""Property-based API testing: schemathesis generates requests from our OpenAPI document.

Every operation is called with generated (valid and invalid) input, anonymously and
with a moderator's token; no response may be a 5xx or break the documented schema.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def auth_headers(make_user, token_for):
    staff = make_user("fuzz_staff", roles=("moderator", "supervisor", "organiser", "inspector", "admin"))
    return token_for(staff)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case, auth_headers):
    case.call_and_validate(checks=CHECKS)
    case.call_and_validate(headers=auth_headers, checks=CHECKS)
