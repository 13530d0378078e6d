"""Liveness and readiness, per service (DESIGN "Readiness per service").

Every function serves `GET /livez` (the process is up; nothing external) and
`GET /readyz` (it can serve: its own dependencies only). gdpr and health need
the database at the code's schema head; generate adds its providers. With
`REDIS_URL` set, every function also needs Redis: the rate limiter keeps its
counters there and refuses every keyed request (503) without it, so `/readyz`
fails too (`ratelimit:redis`). Checks
are draft-inadarei-api-health-check objects. The database probe runs first and,
when it fails, the checks that need the database report that instead of
waiting on it again, so a hung database costs one `DB_CONNECT_TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from shared.logs import get_logger
from shared.timestamps import iso

if TYPE_CHECKING:
    from flask import Response

    from shared.http import RequestContext, Route

log = get_logger("lafactoria.readiness")

Check = dict[str, Any]
CheckFn = Callable[[], list[Check]]
STATUS_ORDER = {"pass": 0, "warn": 1, "fail": 2}
HEALTH_JSON = "application/health+json"
DATABASE_KEYS = ("database:responseTime", "database:migrations")
REDIS_KEY = "ratelimit:redis"
UNREACHABLE = "database unreachable"
PUBLIC_FIELDS = frozenset({"componentId", "componentType", "status", "time"})


def now_iso() -> str:
    return iso(datetime.now(timezone.utc))


def check(status: str, component_type: str, output: str = "", **fields: Any) -> Check:
    item: Check = {"componentType": component_type, "status": status, "time": now_iso()}
    if output:
        item["output"] = output
    item.update(fields)
    return item


def check_database() -> list[Check]:
    """`SELECT 1`, bounded by the engine's connect and statement timeouts."""
    from sqlalchemy import text

    from shared.database import get_engine

    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        log.warning("database check failed", extra={"error": type(exc).__name__})
        return [check("fail", "datastore", UNREACHABLE)]
    elapsed = (time.perf_counter() - started) * 1000
    status = "pass" if elapsed < 500 else "warn"
    return [check(status, "datastore", observedValue=round(elapsed, 2), observedUnit="ms")]


def check_migrations() -> list[Check]:
    """Pass at head; warn if the database is ahead (a newer release migrated: expand-first);
    fail if behind or never migrated (this code needs tables that are not there)."""
    from alembic.script import ScriptDirectory

    from shared.database import get_engine
    from shared.migrations import alembic_config, current_revision

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    try:
        with get_engine().connect() as conn:
            current = current_revision(conn)
    except Exception:  # noqa: BLE001
        return [check("fail", "datastore", "cannot read the schema revision")]
    if current == head:
        return [check("pass", "datastore", observedValue=current)]
    if current is None:
        return [check("fail", "datastore", f"database not migrated; run 'factoria db upgrade' (head {head})")]
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        return [check("warn", "datastore", f"database at {current}, newer than this release's head {head}",
                      observedValue=current)]
    return [check("fail", "datastore", f"database at {current}, behind head {head}; run 'factoria db upgrade'",
                  observedValue=current)]


def check_redis() -> list[Check]:
    """PING the rate limiter's Redis (`REDIS_URL`), bounded by its client's 2 s socket timeouts."""
    from shared.ratelimit import RateLimitStoreUnavailable, RedisBackend
    from shared.settings import get_settings

    url = get_settings().redis_url
    if not url:  # asked for only with REDIS_URL set (with_redis)
        return [check("fail", "datastore", "REDIS_URL is not set")]
    started = time.perf_counter()
    try:
        RedisBackend(url).ping()
    except RateLimitStoreUnavailable:
        return [check("fail", "datastore", "redis unreachable")]
    elapsed = (time.perf_counter() - started) * 1000
    return [check("pass" if elapsed < 500 else "warn", "datastore", observedValue=round(elapsed, 2), observedUnit="ms")]


def with_redis(keys: Iterable[str]) -> list[str]:
    """`keys`, plus the Redis check when `REDIS_URL` is set (read at probe time)."""
    from shared.settings import get_settings

    return [*keys, REDIS_KEY] if get_settings().redis_url else list(keys)


DATABASE_CHECKS: dict[str, CheckFn] = {
    "database:responseTime": check_database,
    "database:migrations": check_migrations,
}


def run_checks(checks: dict[str, CheckFn], keys: Iterable[str], *, needs_database: frozenset[str] | None = None,
               get: Callable[[str], list[Check]] | None = None) -> dict[str, list[Check]]:
    """Run `keys` in order; once `database:responseTime` fails, every key in
    `needs_database` (default: all others) reports the outage without touching it."""
    get = get or (lambda key: checks[key]())
    results: dict[str, list[Check]] = {}
    down = False
    for key in keys:
        if down and (needs_database is None or key in needs_database):
            results[key] = [check("fail" if key in DATABASE_KEYS else "warn", "datastore"
                                  if key in DATABASE_KEYS else "component", f"skipped: {UNREACHABLE}")]
            continue
        try:
            results[key] = get(key)
        except Exception as exc:  # noqa: BLE001 - a broken check reports, never crashes
            log.exception("health check crashed", extra={"check": key})
            results[key] = [check("fail", "component", f"check failed: {type(exc).__name__}")]
        if key == "database:responseTime" and results[key][0]["status"] == "fail":
            down = True
    return results


def overall(results: dict[str, list[Check]]) -> str:
    worst = max((STATUS_ORDER[item["status"]] for items in results.values() for item in items), default=0)
    return {0: "pass", 1: "warn", 2: "fail"}[worst]


def readiness_routes(service_checks: dict[str, CheckFn | str] | None = None) -> list[Route]:
    """`/livez` and `/readyz` for a function: the database checks plus `service_checks`
    (callables or lazy `"module:attr"` references, imported on the first probe)."""
    from shared.http import PUBLIC, Route

    extra = dict(service_checks or {})
    checks: dict[str, CheckFn] = dict(DATABASE_CHECKS)
    for key, fn in extra.items():
        checks[key] = _resolved_on_call(fn)
    keys = list(checks)
    needs_database = frozenset(keys)
    checks[REDIS_KEY] = check_redis
    failing = {"description": "Status fail: a required dependency fails",
               "content": {HEALTH_JSON: {"schema": {"type": "object"}}}}

    def readyz(ctx: RequestContext) -> Response:
        results = run_checks(checks, with_redis(keys), needs_database=needs_database)
        if overall(results) == "fail":
            reasons = {k: [i.get("output", "") for i in items if i["status"] != "pass"] for k, items in results.items()}
            log.warning("not ready", extra={"failing": {k: v for k, v in reasons.items() if v}})
        # Probes are public: the reasons go to the log, the caller gets the statuses.
        return health_response({k: [{f: v for f, v in item.items() if f in PUBLIC_FIELDS} for item in items]
                                for k, items in results.items()})

    return [
        Route("/livez", livez, roles=PUBLIC, summary="Liveness: the process is up"),
        Route("/readyz", readyz, roles=PUBLIC, summary="Readiness: this service's own dependencies",
              responses={503: failing}),
    ]


def _resolved_on_call(ref: CheckFn | str) -> CheckFn:
    """The check `ref` names, imported on the first probe rather than at startup."""
    from shared.http import resolve

    def run() -> list[Check]:
        results: list[Check] = resolve(ref)()
        return results

    return run


def livez(ctx: RequestContext) -> Response:
    """Process is up. Touches nothing external, so a database outage never restarts us."""
    from shared.http import json_response

    return json_response({"status": "pass"}, 200, {"Cache-Control": "no-store"}, HEALTH_JSON)


def health_response(results: dict[str, list[Check]], **body: Any) -> Response:
    """A health+json document: 200 for pass/warn, 503 for fail."""
    from shared.http import json_response

    status = overall(results)
    return json_response({"status": status, **body, "checks": results}, 503 if status == "fail" else 200,
                         {"Cache-Control": "no-store"}, HEALTH_JSON)
