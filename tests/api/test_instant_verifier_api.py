"""With a verifier that decides at once, POST /me/verification answers 201: the document says so too.

The whole module runs with IDENTITY_VERIFIER="instant" (the app_config override below).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import BaseModel

from marketplace.api import Operation
from marketplace.api.openapi import build_document
from tests.api.test_schemathesis import CHECKS

BASE = "/api/v1"
PATH = "/api/v1/me/verification"


@pytest.fixture
def app_config():
    return {"IDENTITY_VERIFIER": "instant"}


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi(f"{BASE}/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema").include(path=PATH, method="POST")


@pytest.fixture
def headers(user, token_for):
    return token_for(user)


def test_the_document_lists_201_and_202_with_the_same_body(api):
    responses = api.get(f"{BASE}/openapi.json").get_json()["paths"]["/api/v1/me/verification"]["post"]["responses"]
    for code in ("201", "202"):
        assert responses[code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/VerificationOut"
        }


def test_a_verified_answer_conforms_to_the_document(api_schema, headers, identity_data):
    case = api_schema[PATH]["POST"].Case(body=identity_data(), headers=headers, media_type="application/json")
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == 201
    assert response.json()["status"] == "verified"


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_submissions_conform_to_the_document(case, headers):
    case.call_and_validate(headers=headers, checks=CHECKS)


class _Thing(BaseModel):
    id: int


def test_further_success_statuses_are_documented_for_any_operation():
    op = Operation(
        rule="/things",
        method="POST",
        endpoint="make_thing",
        summary="Make a thing",
        tags=[],
        body=None,
        query=None,
        response=_Thing,
        status=202,
        auth="none",
        errors=(),
        also={201: _Thing, 204: None},
    )
    doc = build_document([op])
    responses = doc["paths"]["/api/v1/things"]["post"]["responses"]
    ref = {"$ref": "#/components/schemas/_Thing"}
    assert responses["202"]["content"]["application/json"]["schema"] == ref
    assert responses["201"]["content"]["application/json"]["schema"] == ref
    assert "content" not in responses["204"]
    assert "_Thing" in doc["components"]["schemas"]
