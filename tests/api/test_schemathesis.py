"""Property-based API testing: schemathesis generates requests from our OpenAPI document.

Every operation of the document is called with generated (valid and invalid) input, anonymously,
as a verified resident and with a staff member's token; no response may be a 5xx or break the
documented status codes, content types and schemas. The stateful run, which chains operations along
the document's links, is in test_schemathesis_stateful.py.
"""

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from marketplace.api import OPERATIONS
from marketplace.api.openapi import _LINKS, _model_key

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def identities(make_user, verified_user, token_for):
    """Bearer headers of a staff member with every role and of a verified resident."""
    staff = make_user("fuzz_staff", roles=("moderator", "supervisor", "organiser", "inspector", "admin"))
    resident = verified_user("fuzz_resident")
    return token_for(staff), token_for(resident)


@pytest.mark.once  # SQLite pass; on PostgreSQL the stateful run stores generated data along the links
@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case, identities):
    staff, resident = identities
    case.call_and_validate(checks=CHECKS)
    case.call_and_validate(headers=resident, checks=CHECKS)
    case.call_and_validate(headers=staff, checks=CHECKS)


def test_the_document_covers_every_api_route_and_resolves(app, api):
    """The run above covers what the document lists: every API route is in it, and every $ref resolves."""
    doc = api.get("/api/v1/openapi.json").get_json()
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in METHODS}
    routes = {
        (method, "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.lstrip("/")))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_document"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - documented == set(), "API routes missing from the document"
    assert documented - routes == set(), "documented operations without a route"
    assert len(documented) >= 70
    text = api.get("/api/v1/openapi.json").get_data(as_text=True)
    dangling = sorted(set(re.findall(r'"#/components/schemas/([^"]+)"', text)) - set(doc["components"]["schemas"]))
    assert dangling == [], f"$refs to schemas the document lacks: {dangling}"
    operation_ids = [op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m in METHODS]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique (links name them)"
    links = [
        link
        for item in doc["paths"].values()
        for op in (op for m, op in item.items() if m in METHODS)
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert links and all(link["operationId"] in operation_ids for link in links)
    # Every model the link table names still answers some operation (a renamed model loses its links).
    answered = {_model_key(m) for op in OPERATIONS for m in (op.response, *op.also.values()) if m is not None}
    assert set(_LINKS) <= answered, set(_LINKS) - answered
