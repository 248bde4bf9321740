"""Build the OpenAPI 3.1 document from the declared operations and their pydantic models."""

from __future__ import annotations

import re

from pydantic.json_schema import models_json_schema

from marketplace import MAX_ID
from marketplace.api import ERROR_TITLES, Operation, path_params

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}
_CONVERTERS = {
    "int": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
    "string": {"type": "string"},
    "path": {"type": "string"},
}


# OpenAPI links (for clients, and for schemathesis' stateful tests): what a response body identifies.
# Per response model ("feature.Model"): `ids` are the objects the body is about, linked to every operation
# whose path takes them (read, change, act on); `refs` are objects it points at, linked to operations that
# read them (GET …/{id}), or that take them together with one of the `ids`. Each value is a JSON pointer into the body.
_LINKS: dict[str, dict[str, dict[str, str]]] = {
    "accounts.UserCreatedOut": {"ids": {"user_id": "/id"}},
    "identity.MeOut": {"ids": {"user_id": "/id"}},
    "identity.PublicProfileOut": {"ids": {"user_id": "/id"}},
    "identity.VerificationOut": {"ids": {"verification_id": "/id"}, "refs": {"user_id": "/user_id"}},
    "listings.ListingOut": {"ids": {"listing_id": "/id"}, "refs": {"event_id": "/event_id"}},
    "moderation.ReportOut": {"ids": {"report_id": "/id"}, "refs": {"listing_id": "/listing_id"}},
    "moderation.DecisionOut": {
        "ids": {"decision_id": "/id", "entry_id": "/blacklist_entry/id"},
        "refs": {"report_id": "/report_id", "listing_id": "/listing_id"},
    },
    "moderation.DecisionDetailOut": {"ids": {"decision_id": "/id"}, "refs": {"listing_id": "/listing_id"}},
    "moderation.AppealOut": {"ids": {"appeal_id": "/id"}, "refs": {"decision_id": "/decision_id"}},
    "moderation.CertificationOut": {"refs": {"listing_id": "/listing_id"}},
    "orders.OrderOut": {"ids": {"order_id": "/id"}, "refs": {"listing_id": "/listing/id"}},
    "ratings.RatingOut": {"ids": {"rating_id": "/id"}, "refs": {"order_id": "/order_id"}},
    "ratings.PublicRatingOut": {"ids": {"rating_id": "/id"}, "refs": {"order_id": "/order_id"}},
    "events.EventDetail": {"ids": {"event_id": "/id"}},
    "events.RegistrationOut": {"ids": {"registration_id": "/id"}, "refs": {"event_id": "/event/id"}},
    "events.SwapOut": {"ids": {"offer_id": "/id"}, "refs": {"event_id": "/event_id"}},
    "trust.EntryReviewedOut": {"ids": {"entry_id": "/id"}},
}
# A token just issued is used by these operations (token issue → use → revoke).
_TOKEN_USES = ("get_me", "revoke_token")


def _model_key(model) -> str:
    return model.__module__.removeprefix("marketplace.").removesuffix(".schemas") + "." + model.__name__


def _links(source: Operation, model, operations: list[Operation]) -> dict[str, dict]:
    """The links from a response with `model` as its body to the operations its ids fill in."""
    if model is not None and _model_key(model) == "accounts.TokenOut":
        return {
            op.endpoint: {
                "operationId": op.endpoint,
                "parameters": {"header.Authorization": "Bearer {$response.body#/token}"},
            }
            for op in operations
            if op.endpoint in _TOKEN_USES
        }
    spec = _LINKS.get(_model_key(model)) if model is not None else None
    if spec is None:
        return {}
    ids, refs = spec.get("ids", {}), spec.get("refs", {})
    links = {}
    for op in operations:
        names = [name for name, _conv in path_params(op.rule)]
        if not names or not all(name in ids or name in refs for name in names):
            continue
        if op is source and op.method == "GET":
            continue
        if not any(name in ids for name in names) and not (op.method == "GET" and op.rule.endswith(f":{names[-1]}>")):
            continue
        links[op.endpoint] = {
            "operationId": op.endpoint,
            "parameters": {f"path.{name}": f"$response.body#{ids.get(name) or refs[name]}" for name in names},
        }
    return links


def _openapi_path(rule: str) -> str:
    return "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def _problem(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _success(op: Operation, model, operations: list[Operation], refs: dict) -> dict:
    if model is not None:
        response = {
            "description": op.summary,
            "content": {op.content_type: {"schema": {"$ref": refs[model]}}},
        }
        links = _links(op, model, operations)
        if links:
            response["links"] = links
        return response
    if op.content_type != "application/json":
        return {"description": op.summary, "content": {op.content_type: {"schema": {"type": "string"}}}}
    return {"description": op.summary}


def build_document(operations: list[Operation]) -> dict:
    """Return the whole document: paths, operations, schemas and the bearer scheme."""
    models = set()
    for op in operations:
        for model in (op.body, op.query, op.response, *op.also.values()):
            if model is not None:
                models.add(model)
    ordered = sorted(models, key=lambda m: m.__name__)
    key_map, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    schemas = dict(defs.get("$defs", {}))
    # Two models of the same name (AppealOut in moderation and in supervision) get longer component
    # names from pydantic: refer to each model by the name it was given, never by its class name.
    refs = {m: key_map[(m, "validation")]["$ref"] for m in ordered}
    schemas["Problem"] = PROBLEM_SCHEMA

    paths: dict[str, dict] = {}
    for op in operations:
        item = paths.setdefault(_openapi_path(op.rule), {})
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": _CONVERTERS.get(conv, {"type": "string"})}
            for name, conv in path_params(op.rule)
        ]
        if op.query is not None:
            query_schema = schemas[refs[op.query].rsplit("/", 1)[-1]]
            required = set(query_schema.get("required", []))
            for name, prop in query_schema.get("properties", {}).items():
                parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        responses: dict[str, dict] = {}
        for code, model in sorted({op.status: op.response, **op.also}.items()):
            responses[str(code)] = _success(op, model, operations, refs)
        codes = set(op.errors) | {429}
        if op.auth == "required":
            codes |= {401}
        if op.roles:
            codes |= {401, 403}
        if op.body is not None:
            codes |= {400, 413, 415, 422}
        if op.query is not None or parameters:
            codes |= {404, 422}
        for code in sorted(codes):
            responses[str(code)] = _problem(ERROR_TITLES.get(code, "Error"))
        operation = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "tags": op.tags,
            "parameters": parameters,
            "responses": responses,
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": refs[op.body]}}},
            }
        if op.auth == "required":
            operation["security"] = [{"bearer": []}]
        elif op.auth == "optional":
            operation["security"] = [{}, {"bearer": []}]
        item[op.method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Second-hand marketplace API",
            "version": "1.0.0",
            "description": "JSON API of the marketplace. Errors are application/problem+json (RFC 9457).",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
