"""The health checks behind `/readyz` and `/health` (draft-inadarei-api-health-check).

Each check returns a list of check objects for its key. Missing data (no
backup yet, a job that never ran) is `warn`, never a crash; a check that
itself raises is reported as `fail` with its reason. Results are cached for
`HEALTH_CACHE_SECONDS` per process so frequent probes stay cheap, and the
backup-store checks (a network listing on S3) for a minute.

In `shared` because two parts run them: the health function (`/readyz`,
`/health`) and the `alert-check` job's readiness rule.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from shared.logs import get_logger

log = get_logger("lafactoria.health")

Check = dict[str, Any]
STATUS_ORDER = {"pass": 0, "warn": 1, "fail": 2}
READINESS_KEYS = ("database:responseTime", "database:migrations", "providers:configured")
_BACKUP_CACHE_SECONDS = 60.0


def get_settings():
    from shared.settings import get_settings as _get

    return _get()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check(status: str, component_type: str, output: str = "", **fields: Any) -> Check:
    item: Check = {"componentType": component_type, "status": status, "time": _now()}
    if output:
        item["output"] = output
    item.update(fields)
    return item


def check_database() -> list[Check]:
    from sqlalchemy import text

    from shared.database import get_engine

    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        log.warning("database check failed", extra={"error": type(exc).__name__})
        return [_check("fail", "datastore", "database unreachable")]
    elapsed = (time.perf_counter() - started) * 1000
    status = "pass" if elapsed < 500 else "warn"
    return [_check(status, "datastore", observedValue=round(elapsed, 2), observedUnit="ms")]


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
        return [_check("fail", "datastore", "cannot read the schema revision")]
    if current == head:
        return [_check("pass", "datastore", observedValue=current)]
    if current is None:
        return [_check("fail", "datastore", f"database not migrated; run 'factoria db upgrade' (head {head})")]
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        return [_check("warn", "datastore", f"database at {current}, newer than this release's head {head}",
                       observedValue=current)]
    return [_check("fail", "datastore", f"database at {current}, behind head {head}; run 'factoria db upgrade'",
                   observedValue=current)]


def provider_readiness(name: str) -> tuple[bool, str]:
    """Whether `name` has what it needs to be called; reads settings only, never calls out."""
    s = get_settings()
    if name == "mock":
        return (not s.is_production, "offline mock provider" if not s.is_production else "mock refused in production")
    if name == "openai":
        return (bool(s.openai_api_key), f"model {s.openai_model}" if s.openai_api_key else "OPENAI_API_KEY missing")
    if name == "anthropic":
        return (bool(s.anthropic_api_key), f"model {s.anthropic_model}" if s.anthropic_api_key else "ANTHROPIC_API_KEY missing")
    if name == "vertex":
        ok = bool(s.google_api_key or s.google_cloud_project)
        return (ok, f"model {s.vertex_model}" if ok else "GOOGLE_API_KEY or GOOGLE_CLOUD_PROJECT missing")
    return (False, "unknown provider")


def check_providers() -> list[Check]:
    out = []
    for name in get_settings().providers:
        ok, why = provider_readiness(name)
        out.append(_check("pass" if ok else "warn", "component", why, componentId=name))
    if not any(item["status"] == "pass" for item in out):
        for item in out:
            item["status"] = "fail"
    return out


def check_backup_storage() -> list[Check]:
    from shared.storage import StoreError, open_store

    started = time.perf_counter()
    try:
        open_store(get_settings().backup_url).check()
    except StoreError as exc:
        return [_check("warn", "component", str(exc))]
    except Exception as exc:  # noqa: BLE001
        return [_check("warn", "component", f"backup store unreachable: {type(exc).__name__}")]
    elapsed = (time.perf_counter() - started) * 1000
    return [_check("pass", "component", observedValue=round(elapsed, 2), observedUnit="ms")]


def newest_backup_time() -> datetime | None:
    """Creation time of the newest `<timestamp>/manifest.json` in the backup store."""
    import json

    from shared.storage import open_store

    store = open_store(get_settings().backup_url)
    manifests = [o for o in store.list() if o.key.endswith("/manifest.json")]
    if not manifests:
        return None
    newest = max(manifests, key=lambda o: o.key)
    try:
        created = json.loads(store.get_bytes(newest.key))["created_at"]
        stamp = datetime.fromisoformat(created.replace("Z", "+00:00"))
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    except (KeyError, ValueError, TypeError):
        return newest.modified


def check_backup_age() -> list[Check]:
    try:
        newest = newest_backup_time()
    except Exception as exc:  # noqa: BLE001
        return [_check("warn", "component", f"cannot list backups: {type(exc).__name__}")]
    if newest is None:
        return [_check("warn", "component", "no backup found")]
    age_h = (datetime.now(timezone.utc) - newest).total_seconds() / 3600
    limit = get_settings().backup_max_age_hours
    status = "pass" if age_h <= limit else "warn"
    output = "" if status == "pass" else f"newest backup is {age_h:.1f} h old (limit {limit:g} h)"
    return [_check(status, "component", output, observedValue=round(age_h, 2), observedUnit="h")]


def check_jobs() -> list[Check]:
    from sqlalchemy import func, select

    from shared.job_schedule import JOBS
    from shared.database import session_scope
    from shared.models import JobRun

    out = []
    try:
        with session_scope() as session:
            latest = (
                select(JobRun.job, func.max(JobRun.started_at).label("started"))
                .where(JobRun.job.in_(list(JOBS)))
                .group_by(JobRun.job)
                .subquery()
            )
            rows = session.execute(
                select(JobRun).join(latest, (JobRun.job == latest.c.job) & (JobRun.started_at == latest.c.started))
            ).scalars().all()
    except Exception as exc:  # noqa: BLE001
        return [_check("warn", "component", f"job ledger unreadable: {type(exc).__name__}", componentId=j) for j in JOBS]
    by_job = {r.job: r for r in rows}
    for job in JOBS:
        run = by_job.get(job)
        if run is None:
            out.append(_check("warn", "component", "never run", componentId=job))
            continue
        status = {"ok": "pass", "running": "pass"}.get(run.status, "warn")
        output = "" if status == "pass" else f"last run {run.status}"
        if job == DEAD_MANS_JOB:
            late = dead_mans_output(JOBS[job], run.started_at)
            if late:
                status, output = "fail", late
        out.append(_check(status, "component", output,
                          componentId=job, observedValue=run.status, time=run.started_at.isoformat(timespec="seconds")))
    return out


DEAD_MANS_JOB = "alert-check"


def dead_mans_output(schedule: str, last_started: datetime, now: datetime | None = None) -> str:
    """Non-empty when the job has not started within twice its schedule's interval: the
    watcher is not watching, and nothing else would say so (no alert can fire)."""
    from croniter import croniter

    now = now or datetime.now(timezone.utc)
    it = croniter(schedule, now)
    prev = it.get_prev(datetime)
    interval = prev - it.get_prev(datetime)
    if now - last_started <= 2 * interval:
        return ""
    minutes = int((now - last_started).total_seconds() // 60)
    return (f"not run for {minutes} min (schedule '{schedule}', expected at least every "
            f"{int(interval.total_seconds() // 60)} min): alerts are not being evaluated")


def check_alerts() -> list[Check]:
    from sqlalchemy import func, select

    from shared.database import session_scope
    from shared.models import Alert

    try:
        with session_scope() as session:
            counts = dict(session.execute(
                select(Alert.severity, func.count()).where(Alert.status == "open").group_by(Alert.severity)
            ).all())
            critical = session.scalars(
                select(Alert.rule).where(Alert.status == "open", Alert.severity == "critical").order_by(Alert.rule)
            ).all()
    except Exception as exc:  # noqa: BLE001
        return [_check("warn", "component", f"alerts unreadable: {type(exc).__name__}")]
    total = sum(counts.values())
    if critical:
        return [_check("fail", "component", "open critical alerts: " + ", ".join(critical), observedValue=total)]
    if total:
        return [_check("warn", "component", f"{total} open alert(s)", observedValue=total)]
    return [_check("pass", "component", observedValue=0)]


CHECKS: dict[str, Callable[[], list[Check]]] = {
    "database:responseTime": check_database,
    "database:migrations": check_migrations,
    "providers:configured": check_providers,
    "backups:storage": check_backup_storage,
    "backups:age": check_backup_age,
    "jobs:lastRun": check_jobs,
    "alerts:open": check_alerts,
}
_SLOW_KEYS = {"backups:storage", "backups:age"}


class CheckCache:
    """Per-process memo of check results, so probes every second cost one run per TTL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, list[Check]]] = {}

    def get(self, key: str) -> list[Check]:
        ttl = _BACKUP_CACHE_SECONDS if key in _SLOW_KEYS else get_settings().health_cache_seconds
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < ttl:
            return entry[1]
        try:
            result = CHECKS[key]()
        except Exception as exc:  # noqa: BLE001 - a broken check reports, never crashes
            log.exception("health check crashed", extra={"check": key})
            result = [_check("fail", "component", f"check failed: {type(exc).__name__}")]
        with self._lock:
            self._entries[key] = (now, result)
        return result

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


cache = CheckCache()


def overall(checks: dict[str, list[Check]]) -> str:
    worst = 0
    for items in checks.values():
        for item in items:
            worst = max(worst, STATUS_ORDER[item["status"]])
    return {0: "pass", 1: "warn", 2: "fail"}[worst]


def run(keys: tuple[str, ...] | list[str]) -> dict[str, list[Check]]:
    return {key: cache.get(key) for key in keys}
