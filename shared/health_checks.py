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
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from shared import readiness
from shared.logs import get_logger
from shared.timestamps import as_utc, iso

if TYPE_CHECKING:
    from shared.settings import Settings

log = get_logger("lafactoria.health")

Check = readiness.Check
STATUS_ORDER = readiness.STATUS_ORDER
# The health service needs only the database to serve (DESIGN "Readiness per service").
READINESS_KEYS = readiness.DATABASE_KEYS
_BACKUP_CACHE_SECONDS = 60.0
_FAILURE_WINDOW = timedelta(hours=1)
_check = readiness.check
check_database = readiness.check_database
check_migrations = readiness.check_migrations


def get_settings() -> Settings:
    from shared.settings import get_settings as _get

    return _get()


def check_providers() -> list[Check]:
    """Each provider of `AI_PROVIDERS` (and any the ledger knows) from the state every generate
    instance shares in the database: circuit, last success, failure share over the last hour.
    Never this process's credentials: the health service holds no provider secrets."""
    from sqlalchemy import case, func, select

    from shared.database import session_scope
    from shared.models import ProviderCircuit, UsageEvent, utcnow

    settings = get_settings()
    now = utcnow()
    attempts = UsageEvent.outcome.notin_(("reserved", "released"))
    with session_scope() as session:
        circuits = {c.provider: c for c in session.scalars(select(ProviderCircuit))}
        stats = {row.provider: row for row in session.execute(
            select(UsageEvent.provider, func.count().label("calls"),
                   func.sum(case((UsageEvent.outcome == "success", 0), else_=1)).label("failed"))
            .where(attempts, UsageEvent.created_at >= now - _FAILURE_WINDOW).group_by(UsageEvent.provider))}
        last_ok = dict(session.execute(
            select(UsageEvent.provider, func.max(UsageEvent.created_at))
            .where(UsageEvent.outcome == "success").group_by(UsageEvent.provider)).all())
    out = []
    for name in dict.fromkeys([*settings.providers, *circuits]):
        circuit, stat = circuits.get(name), stats.get(name)
        fields: dict[str, Any] = {"componentId": name}
        if stat is not None and stat.calls:
            fields |= {"observedValue": round((stat.failed or 0) / stat.calls, 4), "observedUnit": "failure share 1h"}
        if last_ok.get(name) is not None:
            fields["lastSuccess"] = iso(last_ok[name])
        if name == "mock" and settings.is_production:
            out.append(_check("fail", "component", "mock refused in production", **fields))
        elif circuit is not None and circuit.open_until is not None and as_utc(circuit.open_until) > now:
            out.append(_check("warn", "component", f"circuit open until {iso(circuit.open_until)} "
                              f"after {circuit.failures} consecutive failures", **fields))
        else:
            out.append(_check("pass", "component", "offline mock provider" if name == "mock" else "", **fields))
    if out and not any(item["status"] == "pass" for item in out):
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
        created: str = json.loads(store.get_bytes(newest.key))["created_at"]
        return as_utc(created)
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


def check_backup_encryption() -> list[Check]:
    """Production without BACKUP_ENCRYPTION_KEYS writes backups anyone with the bucket can read: warn."""
    settings = get_settings()
    if settings.backup_keys:
        return [_check("pass", "component", observedValue=len(settings.backup_keys), observedUnit="keys")]
    if settings.is_production:
        return [_check("warn", "component", "backups are not encrypted: set BACKUP_ENCRYPTION_KEYS "
                       "(factoria backup keygen)", observedValue=0, observedUnit="keys")]
    return [_check("pass", "component", "not encrypted (development)", observedValue=0, observedUnit="keys")]


def check_wal_archive() -> list[Check]:
    """Age of the newest archived WAL segment (point-in-time recovery); warn when older than the RPO
    with unarchived WAL behind it. Production without PITR_STANZA is a warning too."""
    from shared.database import session_scope
    from shared.wal_archive import read_state

    settings = get_settings()
    if not settings.pitr_stanza or settings.is_sqlite:
        status = "warn" if settings.is_production else "pass"
        return [_check(status, "component", "point-in-time recovery not configured (PITR_STANZA)")]
    try:
        with session_scope() as session:
            state = read_state(session.connection())
    except Exception as exc:  # noqa: BLE001
        return [_check("warn", "component", f"archiver state unreadable: {type(exc).__name__}")]
    rpo = settings.pitr_rpo_seconds
    stale = state.stale(rpo)
    fields = {} if state.age_seconds is None else {"observedValue": round(state.age_seconds, 1),
                                                   "observedUnit": "s"}
    return [_check("warn" if stale else "pass", "component", state.describe(rpo) if stale else "", **fields)]


def check_jobs(now: datetime | None = None) -> list[Check]:
    """One entry per job, from `shared.job_status` (what counts as a run, when a job is overdue):
    a job never due since the install passes; a missed schedule or a failed last run warns;
    the alert watcher silent for twice its interval fails (dead-man's check)."""
    from shared import job_status
    from shared.database import session_scope
    from shared.job_schedule import JOBS

    now = now or datetime.now(timezone.utc)
    try:
        with session_scope() as session:
            states = job_status.assess(session, now, job_status.grace(get_settings()))
    except Exception as exc:  # noqa: BLE001
        return [_check("warn", "component", f"job ledger unreadable: {type(exc).__name__}", componentId=j)
                for j in JOBS]
    out = []
    for job, st in states.items():
        run = st.last_run
        watcher = job == job_status.DEAD_MANS_JOB  # nothing else would say that alerts stopped: fail
        if run is None:
            output = f"missed its schedule: {st.missed_output()}" if st.overdue else "not due yet since install"
            status = ("fail" if watcher else "warn") if st.overdue else "pass"
            out.append(_check(status, "component", output, componentId=job))
            continue
        status = {"ok": "pass", "running": "pass"}.get(run.status, "warn")
        output = "" if status == "pass" else f"last run {run.status}"
        if st.overdue:
            status, output = "fail" if watcher else "warn", f"missed its schedule: {st.missed_output()}"
        if watcher:
            late = job_status.dead_mans_output(st.schedule, run.started_at, now)
            if late:
                status, output = "fail", late
        out.append(_check(status, "component", output, componentId=job, observedValue=run.status,
                          time=iso(run.started_at)))
    return out


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


def check_database_resources() -> list[Check]:
    """Connections, size and growth, long transactions, lock waits, bloat and slow queries
    (PostgreSQL; on SQLite one item says "not assessed"). A problem is `warn`: the service
    still serves, alert-check pages by its own rules."""
    from shared import db_resources as res
    from shared.database import session_scope

    settings = get_settings()
    try:
        with session_scope() as session:
            snap = res.snapshot(session, settings)
    except Exception as exc:  # noqa: BLE001 - e.g. a role that may not read pg_stat_*: say so, still serve
        log.warning("database resources unreadable", extra={"error": type(exc).__name__})
        return [_check("warn", "datastore", f"resources unreadable: {type(exc).__name__}", componentId="resources")]
    if not snap["assessed"]:
        return [_check("pass", "datastore", snap["reason"], componentId="resources",
                       observedValue=snap["size_bytes"], observedUnit="bytes")]
    return [_connections_item(snap["connections"], settings), _size_item(snap["size"], settings),
            _long_transactions_item(snap["long_transactions"]), _lock_waits_item(snap["lock_waits"]),
            _bloat_item(snap["bloat"]), _slow_queries_item(snap["slow_queries"])]


def _connections_item(c: dict[str, Any], settings: Settings) -> Check:
    conn_status = "warn" if c["share"] >= settings.alert_db_connections_warning else "pass"
    return _check(conn_status, "datastore", f"{c['in_use']} of {c['max_connections']} connections",
                  componentId="connections", observedValue=c["share"], observedUnit="share of max_connections")


def _size_item(size: dict[str, Any], settings: Settings) -> Check:
    days = size["days_until_full"]
    size_status = "warn" if days is not None and days < settings.alert_db_size_days else "pass"
    size_note = ("days until full unknown: DB_SIZE_LIMIT_GB not set" if size["limit_bytes"] is None else
                 "growth unknown yet" if size["growth_bytes_per_day"] is None else
                 "not growing" if days is None else f"full in {days:.1f} days")
    return _check(size_status, "datastore", size_note, componentId="size", observedValue=size["size_bytes"],
                  observedUnit="bytes", growthBytesPerDay=size["growth_bytes_per_day"], daysUntilFull=days)


def _long_transactions_item(long_tx: list[dict[str, Any]]) -> Check:
    return _check("warn" if long_tx else "pass", "datastore",
                  "; ".join(f"{t['age_s'] / 60:.1f} min {t['fingerprint']}" for t in long_tx[:3]),
                  componentId="long_transactions", observedValue=len(long_tx), observedUnit="transactions",
                  transactions=long_tx[:5])


def _lock_waits_item(locks: dict[str, Any]) -> Check:
    return _check("warn" if locks["waiting"] else "pass", "datastore", "", componentId="lock_waits",
                  observedValue=locks["waiting"], observedUnit="sessions waiting", longestSeconds=locks["longest_s"])


def _bloat_item(bloat: list[dict[str, Any]]) -> Check:
    bloated = [b for b in bloat if b["bloated"]]
    big = [b for b in bloat if b["big"]]
    return _check("warn" if bloated else "pass", "datastore",
                  ", ".join(f"{b['table']} {b['dead_ratio']:.0%} dead" for b in bloated), componentId="bloat",
                  observedValue=max((b["dead_ratio"] for b in big), default=0.0),
                  observedUnit="largest dead-tuple share of a big table", tables=big[:5])


def _slow_queries_item(slow: dict[str, Any]) -> Check:
    return _check("pass", "datastore", "" if slow["available"] else slow["reason"], componentId="slow_queries",
                  observedValue=slow["top"][0]["mean_ms"] if slow["top"] else None, observedUnit="ms mean (slowest)",
                  top=slow["top"][:5])


def check_instances() -> list[Check]:
    """Each function instance's latest resource sample (last 10 minutes): RSS, threads, in-flight
    requests and its pool; `warn` when its pool made a request wait or time out in the last 5
    minutes. The instance (host:pid) is a detail for ops; the summary names only the function."""
    from sqlalchemy import func, select

    from shared.database import session_scope
    from shared.models import InstanceSample as S, utcnow

    now = utcnow()
    with session_scope() as session:
        rows = session.scalars(select(S).where(S.at >= now - timedelta(minutes=10)).order_by(S.instance, S.at)).all()
        latest = {row.instance: row for row in rows}
        # counters are cumulative per process: the largest before the window is where it started
        before = dict(session.execute(select(S.instance, func.max(S.pool_waits + S.pool_timeouts)).where(
            S.at < now - timedelta(minutes=5), S.instance.in_(list(latest) or [""])).group_by(S.instance)).all())
    if not latest:
        return [_check("pass", "system", "no instance reported in the last 10 minutes", componentId="instances")]
    out = []
    for instance, row in sorted(latest.items(), key=lambda kv: (kv[1].function, kv[0])):
        stalled = row.pool_waits + row.pool_timeouts - int(before.get(instance) or 0)
        out.append(_check("warn" if stalled > 0 else "pass", "system",
                          f"{stalled} pool wait(s) or timeout(s) in the last 5 min" if stalled > 0 else "",
                          componentId=row.function, instance=instance, observedValue=row.rss_bytes,
                          observedUnit="bytes RSS", threads=row.threads, inFlight=row.in_flight,
                          pool={"size": row.pool_size, "checkedOut": row.pool_checked_out, "waits": row.pool_waits,
                                "timeouts": row.pool_timeouts}, time=iso(row.at)))
    return out


CHECKS: dict[str, Callable[[], list[Check]]] = {
    "database:responseTime": check_database,
    "database:migrations": check_migrations,
    "providers:configured": check_providers,
    "backups:storage": check_backup_storage,
    "backups:age": check_backup_age,
    "backups:encryption": check_backup_encryption,
    "backups:wal": check_wal_archive,
    "jobs:lastRun": check_jobs,
    "alerts:open": check_alerts,
    readiness.REDIS_KEY: readiness.check_redis,  # asked for only with REDIS_URL set (readiness.with_redis)
    "database:resources": check_database_resources,
    "instances:resources": check_instances,
}
_SLOW_KEYS = {"backups:storage", "backups:age"}
_NEEDS_DATABASE = frozenset(CHECKS) - _SLOW_KEYS - {readiness.REDIS_KEY, "backups:encryption"}


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
        if key == "database:responseTime" and result[0]["status"] == "fail":
            return result  # an outage is not cached: the next probe looks again
        with self._lock:
            self._entries[key] = (now, result)
        return result

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


cache = CheckCache()


overall = readiness.overall


def run(keys: tuple[str, ...] | list[str]) -> dict[str, list[Check]]:
    """The checks for `keys`; with the database down, the database-backed ones say so at once."""
    return readiness.run_checks(CHECKS, keys, needs_database=_NEEDS_DATABASE, get=cache.get)
