"""OpenAPI 3.1 documents generated from a function's routes and pydantic models.

The document is built from the same `Route` objects and models that validate
requests, so it cannot drift from the code; `docs/openapi/NAME.json` is the
committed copy and a test checks the two are equal (`make openapi` rewrites it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.auth import ANY_ROLE

if TYPE_CHECKING:
    from pydantic import BaseModel

_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>")
# Problem bodies are named components (the field error too), so a client generator
# makes one typed model per shape and parses every documented 4xx/5xx into it.
FIELD_ERROR_SCHEMA = {
    "type": "object",
    "description": "One invalid field of the request",
    "required": ["field", "message"],
    "properties": {
        "field": {"type": "string", "description": "dotted path of the field, or `body`"},
        "message": {"type": "string"},
    },
}
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
}
VALIDATION_PROBLEM_SCHEMA = {
    "description": "A problem listing each invalid field (every 422)",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {"type": "object", "required": ["errors"],
         "properties": {"errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}}},
    ],
}
HEADERS = {
    "X-Request-ID": {"description": "The request's id (echoed from the request when given)",
                     "schema": {"type": "string"}},
    "RateLimit-Limit": {"description": "Requests (weighted units) allowed per minute for this API key",
                        "schema": {"type": "integer", "minimum": 1}},
    "RateLimit-Remaining": {"description": "Units left in the current window",
                            "schema": {"type": "integer", "minimum": 0}},
    "RateLimit-Reset": {"description": "Seconds until the current window ends",
                        "schema": {"type": "integer", "minimum": 1}},
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1}},
    "WWW-Authenticate": {"description": "Bearer challenge", "schema": {"type": "string"}},
}
_RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
_PROBLEM_TEXT = {
    400: "Malformed JSON",
    401: "Missing or invalid API key",
    403: "Role not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Invalid fields",
    429: "Rate or quota exceeded",
    503: "Dependency unavailable (database, rate-limit store or providers)",
}


class DocumentedRoute(Protocol):
    """What the document reads of a route (shared.http's `Route`; named structurally: http imports
    this module). `body`, `query` and `response` are pydantic models."""

    @property
    def rule(self) -> str: ...
    @property
    def methods(self) -> tuple[str, ...]: ...
    @property
    def roles(self) -> frozenset[str] | None: ...
    @property
    def status(self) -> int: ...
    @property
    def summary(self) -> str: ...
    @property
    def responses(self) -> dict[int, Any]: ...  # a problem's description, or a whole response object
    @property
    def handler(self) -> Callable[..., Any]: ...
    @property
    def body(self) -> type[BaseModel] | None: ...
    @property
    def query(self) -> type[BaseModel] | None: ...
    @property
    def response(self) -> type[BaseModel] | None: ...


def openapi_path(rule: str) -> str:
    return _CONVERTER.sub(r"{\1}", rule)


def path_parameter_schema(name: str) -> dict[str, Any]:
    """Identifiers are UUID strings (DESIGN.md), and every path parameter named `*_id` is one."""
    return {"type": "string", "format": "uuid"} if name.endswith("_id") else {"type": "string"}


def _schema_of(model: type[BaseModel], components: dict[str, Any],
               mode: Literal["validation", "serialization"] = "serialization") -> dict[str, Any]:
    """Register `model` (and its nested models) in `components`; return a $ref to it."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _problem(status: int) -> dict[str, Any]:
    schema = "ValidationProblem" if status == 422 else "Problem"
    response: dict[str, Any] = {
        "description": _PROBLEM_TEXT.get(status, "Error"),
        "content": {"application/problem+json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if status == 401:
        response["headers"] = _header_refs("WWW-Authenticate")
    elif status == 429:
        response["headers"] = _header_refs("Retry-After", *_RATE_HEADERS)
    elif status == 503:
        response["headers"] = _header_refs("Retry-After")
    return response


def _with_headers(response: dict[str, Any], limited: bool) -> dict[str, Any]:
    """Every response carries X-Request-ID; every response of a rate-limited route the RateLimit-* trio."""
    names = ("X-Request-ID", *_RATE_HEADERS) if limited else ("X-Request-ID",)
    headers = dict(response.get("headers", {}))
    for name, ref in _header_refs(*names).items():
        headers.setdefault(name, ref)
    return response | {"headers": headers}


def _parameters(route: DocumentedRoute) -> list[dict[str, Any]]:
    """Path parameters from the rule, then one query parameter per field of the query model."""
    params = [
        {"name": p, "in": "path", "required": True, "schema": path_parameter_schema(p)}
        for p in _CONVERTER.findall(route.rule)
    ]
    if route.query is not None:
        qschema = route.query.model_json_schema()
        required = set(qschema.get("required", []))
        for pname, pschema in qschema.get("properties", {}).items():
            pschema = {k: v for k, v in pschema.items() if k != "title"}
            params.append({"name": pname, "in": "query", "required": pname in required, "schema": pschema})
    return params


def _operation_id(name: str, route: DocumentedRoute, method: str, path: str, used_ids: set[str]) -> str:
    op_id = f"{name}_{route.handler.__name__}_{method.lower()}"
    if op_id in used_ids:  # one handler on several paths (e.g. /v1/me and /v1/users/{id})
        op_id += "_" + "_".join(re.findall(r"[a-z0-9]+", path.lower()))
    used_ids.add(op_id)
    return op_id


def _declared_responses(route: DocumentedRoute, components: dict[str, Any]) -> dict[str, Any]:
    """The success response and the ones the route lists itself (`Route.responses`)."""
    ok: dict[str, Any] = {"description": "Success"}
    if route.response is not None:
        schema = _schema_of(route.response, components)
        ok["content"] = {media: {"schema": schema} for media in route_content_types(route)}
    responses: dict[str, Any] = {str(route.status): ok}
    for status, text in route.responses.items():
        if isinstance(text, dict):  # a full OpenAPI response object (e.g. a non-problem error body)
            responses.setdefault(str(status), text)
        else:
            responses.setdefault(str(status), _problem(status) | {"description": text}
                                 if status >= 400 else {"description": text})
    return responses


def _implied_statuses(route: DocumentedRoute, params: list[dict[str, Any]]) -> list[int]:
    """The problems the route's shape can produce whatever its handler does (see `build_document`)."""
    statuses = [405]
    if route.roles is not None:
        statuses += [401, 429, 503]
        if route.roles != ANY_ROLE:
            statuses.append(403)
    if route.body is not None:
        statuses += [400, 413, 415, 422]
    if route.query is not None:
        statuses.append(422)
    if any(p["in"] == "path" for p in params):
        statuses.append(404)
    return sorted(set(statuses))


def _operation(name: str, route: DocumentedRoute, method: str, path: str, params: list[dict[str, Any]],
               components: dict[str, Any], used_ids: set[str]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": _operation_id(name, route, method, path, used_ids),
        "summary": route.summary or route.handler.__name__.replace("_", " "),
        "responses": {},
    }
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_of(route.body, components, mode="validation")}},
        }
    responses = _declared_responses(route, components)
    op["security"] = [{"bearerAuth": []}] if route.roles is not None else []
    for status in _implied_statuses(route, params):
        responses.setdefault(str(status), _problem(status))
    limited = route.roles is not None
    op["responses"] = {code: _with_headers(resp, limited) for code, resp in sorted(responses.items())}
    return op


def build_document(name: str, routes: Iterable[DocumentedRoute], version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of one function.

    Statuses every operation can produce are added from the route's shape so a
    handler author lists only its own (`Route.responses`): 405 always; 401, 429
    and 503 (database or rate-limit store down) with a key; 403 when only some
    roles may call; 400/413/415/422 with a body; 422 with a query model; 404
    with path parameters.
    """
    components: dict[str, Any] = {"FieldError": FIELD_ERROR_SCHEMA, "Problem": PROBLEM_SCHEMA,
                                  "ValidationProblem": VALIDATION_PROBLEM_SCHEMA}
    paths: dict[str, Any] = {}
    used_ids: set[str] = set()
    for route in routes:
        path = openapi_path(route.rule)
        params = _parameters(route)
        for method in route.methods:
            op = _operation(name, route, method, path, params, components, used_ids)
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": f"La Factoria {name} function", "version": version},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "headers": HEADERS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "API key"}},
        },
    }


def route_content_types(route: DocumentedRoute) -> tuple[str, ...]:
    """The media types a route's success response comes in (a model may offer several, by `Accept`)."""
    offered = getattr(route.response, "content_types", None)
    return tuple(offered) if offered else (getattr(route.response, "content_type", None) or "application/json",)


def merge_documents(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """One document for `factoria dev`: paths and schemas of every function together."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "La Factoria (all functions)", "version": documents[0]["info"]["version"] if documents else "0"},
        "paths": {},
        "components": {"schemas": {}, "headers": {}, "securitySchemes": {}},
    }
    for doc in documents:
        for path, ops in doc["paths"].items():
            merged["paths"].setdefault(path, {}).update(ops)
        merged["components"]["schemas"].update(doc["components"]["schemas"])
        merged["components"]["headers"].update(doc["components"].get("headers", {}))
        merged["components"]["securitySchemes"].update(doc["components"]["securitySchemes"])
    return merged
