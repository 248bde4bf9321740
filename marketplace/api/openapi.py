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


def _openapi_path(rule: str) -> str:
    return "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def _problem(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _success(op: Operation, model) -> dict:
    if model is not None:
        return {
            "description": op.summary,
            "content": {op.content_type: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
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
    _key_map, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA

    paths: dict[str, dict] = {}
    for op in operations:
        item = paths.setdefault(_openapi_path(op.rule), {})
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": _CONVERTERS.get(conv, {"type": "string"})}
            for name, conv in path_params(op.rule)
        ]
        if op.query is not None:
            query_schema = schemas[op.query.__name__]
            required = set(query_schema.get("required", []))
            for name, prop in query_schema.get("properties", {}).items():
                parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        responses: dict[str, dict] = {}
        for code, model in sorted({op.status: op.response, **op.also}.items()):
            responses[str(code)] = _success(op, model)
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
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}},
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
