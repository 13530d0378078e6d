"""Handlers of the health function: liveness, readiness and the health report."""

from __future__ import annotations

import copy
from importlib import metadata

from flask import Response

from shared import health_checks as checks
from shared import readiness
from shared.http import RequestContext, json_response

HEALTH_JSON = "application/health+json"
_PRIVILEGED = {"ops", "admin"}
_PUBLIC_FIELDS = {"componentId", "componentType", "status", "time"}


def _version() -> str:
    try:
        return metadata.version("lafactoria")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def _privileged(ctx: RequestContext) -> bool:
    """Details need an ops/admin key; a missing or bad key just gets the summary."""
    header = ctx.request.headers.get("Authorization")
    if not header:
        return False
    from shared.auth import authenticate
    from shared.errors import Unauthorized

    try:
        principal = authenticate(header)
    except Unauthorized:
        return False
    except Exception:  # noqa: BLE001 - database down: no details, never an error
        return False
    return principal.role in _PRIVILEGED


def _report(ctx: RequestContext, keys: tuple[str, ...] | list[str]) -> Response:
    results = checks.run(keys)
    status = checks.overall(results)
    database_down = results.get("database:responseTime", [{}])[0].get("status") == "fail"
    if database_down or not _privileged(ctx):  # keys live in the database: no second wait on it
        results = {k: [{f: v for f, v in item.items() if f in _PUBLIC_FIELDS} for item in items]
                   for k, items in results.items()}
    else:
        results = copy.deepcopy(results)
    body = {
        "status": status,
        "version": _version().split(".")[0],
        "releaseId": _version(),
        "serviceId": "lafactoria",
        "description": "La Factoria platform health",
        "checks": results,
    }
    return json_response(body, 503 if status == "fail" else 200, {"Cache-Control": "no-store"}, HEALTH_JSON)


livez = readiness.livez


def readyz(ctx: RequestContext) -> Response:
    """Can serve: database reachable and at the schema head, and Redis when the rate limiter uses it."""
    return _report(ctx, readiness.with_redis(checks.READINESS_KEYS))


def health(ctx: RequestContext) -> Response:
    return _report(ctx, readiness.with_redis([k for k in checks.CHECKS if k != readiness.REDIS_KEY]))
