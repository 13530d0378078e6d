"""How close PostgreSQL runs to its limits: connections, disk, slow and long queries, locks, bloat.

In `shared` because three parts read it: the health function (`/health`
details, `/metrics`, the console), the alert-check rules and the ops reports.
Every figure comes from PostgreSQL's own statistics views (`pg_stat_activity`,
`pg_stat_user_tables`, `pg_stat_statements` when the extension is loaded) and
from `database_samples`, which alert-check writes at most once an hour (with
the per-query totals once a day) so growth per day and week-over-week query
times can be computed. On SQLite nothing here is assessed, and every result
says so rather than showing zeros.

Queries are shown by fingerprint only: the normalised text with every literal
replaced by `?` (and a short hash of it), never the statement's parameters,
which may hold personal data.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Row, RowMapping
    from sqlalchemy.orm import Session

    from shared.settings import Settings

from shared.timestamps import as_utc, iso

NOT_ASSESSED = "not assessed: the database is SQLite (PostgreSQL only)"
SAMPLE_EVERY = timedelta(hours=1)
QUERIES_EVERY = timedelta(hours=23)
KEEP_DATABASE_SAMPLES = timedelta(days=120)
KEEP_INSTANCE_SAMPLES = timedelta(days=2)
BIG_TABLE_BYTES = 8 * 1024 * 1024  # bloat is judged on tables at least this big
BLOAT_WARN_RATIO = 0.2  # dead tuples as a share of all tuples
TOP_QUERIES = 10
SLOW_MIN_CALLS = 10  # a query's week needs this many calls to be compared
SLOW_MIN_MEAN_MS = 5.0  # and a mean at least this long: 0.1 -> 0.2 ms is noise
Z95 = 1.645  # p95 ~ mean + 1.645 sd (pg_stat_statements keeps no percentiles)

_STRING = re.compile(r"'(?:[^']|'')*'")
_DOLLAR = re.compile(r"\$([A-Za-z_]\w*|)\$.*?\$\1\$", re.S)
_NUMBER = re.compile(r"(?<![\w$])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b")
_PARAM = re.compile(r"\$\d+")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_SPACE = re.compile(r"\s+")


def fingerprint(sql: str | None) -> dict[str, str]:
    """The normalised statement (literals and parameters as `?`) and a short hash of it."""
    text = _COMMENT.sub(" ", sql or "")
    text = _DOLLAR.sub("?", text)
    text = _STRING.sub("?", text)
    text = _PARAM.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _LIST.sub("(?)", text)
    text = _SPACE.sub(" ", text).strip()
    return {"fingerprint": hashlib.sha256(text.encode()).hexdigest()[:16], "query": text[:300]}


def is_postgres(session: Session) -> bool:
    return bool(session.get_bind().dialect.name == "postgresql")


def _scalar(session: Session, sql: str, **params: object) -> Any:  # what the SQL selects
    from sqlalchemy import text

    return session.execute(text(sql), params).scalar()


def _rows(session: Session, sql: str, **params: object) -> Sequence[RowMapping]:
    from sqlalchemy import text

    return session.execute(text(sql), params).mappings().all()


def connections(session: Session) -> dict[str, Any]:
    """Client connections to the server (every database: they share max_connections)."""
    used = int(_scalar(session, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"))
    limit = int(_scalar(session, "SELECT current_setting('max_connections')::int"))
    reserved = int(_scalar(session, "SELECT current_setting('superuser_reserved_connections')::int"))
    return {"in_use": used, "max_connections": limit, "superuser_reserved": reserved,
            "share": round(used / limit, 4) if limit else None}


def size_bytes(session: Session) -> int:
    if is_postgres(session):
        return int(_scalar(session, "SELECT pg_database_size(current_database())"))
    return int(_scalar(session, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"))


def long_transactions(session: Session, older_than: timedelta) -> list[dict[str, Any]]:
    """Transactions open longer than `older_than`, oldest first, by fingerprint (never parameters)."""
    rows = _rows(session, """
        SELECT EXTRACT(EPOCH FROM (now() - xact_start)) AS age_s, state, wait_event_type, query
        FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
          AND datname = current_database() AND now() - xact_start > make_interval(secs => :secs)
        ORDER BY xact_start""", secs=older_than.total_seconds())
    return [{"age_s": round(float(r["age_s"]), 1), "state": r["state"], "waiting_on": r["wait_event_type"]}
            | fingerprint(r["query"]) for r in rows]


def lock_waits(session: Session) -> dict[str, Any]:
    row = _rows(session, """
        SELECT count(*) AS waiting, COALESCE(max(EXTRACT(EPOCH FROM (now() - state_change))), 0) AS longest_s
        FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND backend_type = 'client backend'
          AND datname = current_database()""")[0]
    return {"waiting": int(row["waiting"]), "longest_s": round(float(row["longest_s"]), 1)}


def bloat(session: Session) -> list[dict[str, Any]]:
    """Dead tuples of this database's tables, biggest tables first (the big ones are judged)."""
    rows = _rows(session, """
        SELECT relname, n_live_tup, n_dead_tup, pg_total_relation_size(relid) AS bytes
        FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC LIMIT 20""")
    out = []
    for r in rows:
        total = int(r["n_live_tup"]) + int(r["n_dead_tup"])
        ratio = round(int(r["n_dead_tup"]) / total, 4) if total else 0.0
        big = int(r["bytes"]) >= BIG_TABLE_BYTES
        out.append({"table": r["relname"], "bytes": int(r["bytes"]), "live_tuples": int(r["n_live_tup"]),
                    "dead_tuples": int(r["n_dead_tup"]), "dead_ratio": ratio, "big": big,
                    "bloated": big and ratio >= BLOAT_WARN_RATIO})
    return out


def statements_available(session: Session) -> bool:
    """Whether pg_stat_statements is installed here and loaded by the server (readable)."""
    if not _scalar(session, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"):
        return False
    try:
        with session.begin_nested():  # not preloaded: the read fails, the transaction must not
            _scalar(session, "SELECT count(*) FROM pg_stat_statements LIMIT 1")
        return True
    except Exception:  # noqa: BLE001 - "must be loaded via shared_preload_libraries"
        return False


def statements(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """This database's statements from pg_stat_statements, slowest mean first."""
    rows = _rows(session, """
        SELECT queryid, calls, total_exec_time, mean_exec_time, stddev_exec_time, query
        FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls > 0
          AND queryid IS NOT NULL
        ORDER BY mean_exec_time DESC LIMIT :limit""", limit=limit)
    return [{"queryid": str(r["queryid"]), "calls": int(r["calls"]), "total_ms": float(r["total_exec_time"]),
             "mean_ms": round(float(r["mean_exec_time"]), 3),
             "p95_ms": round(float(r["mean_exec_time"]) + Z95 * float(r["stddev_exec_time"] or 0), 3)}
            | fingerprint(r["query"]) for r in rows]


# -- samples: growth per day and week-over-week query means --------------------------------
def record_sample(session: Session, now: datetime, *, force: bool = False) -> bool:
    """Write a `database_samples` row unless one is younger than SAMPLE_EVERY (the per-query
    totals only once per QUERIES_EVERY); prune old samples. Returns whether it wrote."""
    from sqlalchemy import delete, func, select

    from shared.models import DatabaseSample, InstanceSample

    latest = session.scalar(select(func.max(DatabaseSample.at)))
    latest = as_utc(latest)
    if not force and latest is not None and now - latest < SAMPLE_EVERY:
        return False
    sample = DatabaseSample(at=now, size_bytes=size_bytes(session))
    if is_postgres(session):
        c = connections(session)
        sample.connections, sample.max_connections = c["in_use"], c["max_connections"]
        last_q = session.scalar(select(func.max(DatabaseSample.at)).where(DatabaseSample.queries.is_not(None)))
        last_q = as_utc(last_q)
        if (force or last_q is None or now - last_q >= QUERIES_EVERY) and statements_available(session):
            sample.queries = {s["queryid"]: {"calls": s["calls"], "total_ms": s["total_ms"], "query": s["query"],
                                             "fingerprint": s["fingerprint"]} for s in statements(session)}
    session.add(sample)
    session.execute(delete(DatabaseSample).where(DatabaseSample.at < now - KEEP_DATABASE_SAMPLES))
    session.execute(delete(InstanceSample).where(InstanceSample.at < now - KEEP_INSTANCE_SAMPLES))
    return True


@dataclass(frozen=True)
class Growth:
    size_bytes: int
    per_day_bytes: float | None  # None: too little history
    since: datetime | None
    limit_bytes: int | None
    days_until_full: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"size_bytes": self.size_bytes,
                "growth_bytes_per_day": None if self.per_day_bytes is None else round(self.per_day_bytes),
                "growth_since": iso(self.since),
                "limit_bytes": self.limit_bytes,
                "days_until_full": None if self.days_until_full is None else round(self.days_until_full, 1)}


def growth(session: Session, now: datetime, size: int, limit_gb: float | None) -> Growth:
    """Growth per day from the oldest sample of the last 7 days (at least 6 hours back)."""
    from sqlalchemy import select

    from shared.models import DatabaseSample

    old = session.execute(select(DatabaseSample.at, DatabaseSample.size_bytes).where(
        DatabaseSample.at >= now - timedelta(days=7), DatabaseSample.at <= now - timedelta(hours=6))
        .order_by(DatabaseSample.at).limit(1)).first()
    limit = int(limit_gb * 1024 ** 3) if limit_gb else None
    if old is None:
        return Growth(size, None, None, limit, None)
    at = as_utc(old.at)
    per_day = (size - int(old.size_bytes)) / ((now - at).total_seconds() / 86400)
    left = None
    if limit is not None:
        left = 0.0 if size >= limit else ((limit - size) / per_day if per_day > 0 else None)
    return Growth(size, per_day, at, limit, left)


def query_trends(session: Session, now: datetime) -> dict[str, Any]:
    """Each query's mean over the last week against the week before, from the daily totals
    (differences of cumulative calls and time, so a stats reset only hides that query)."""
    from sqlalchemy import select

    from shared.models import DatabaseSample

    def nearest(at: datetime) -> Row[datetime, dict[str, Any] | None] | None:
        return session.execute(select(DatabaseSample.at, DatabaseSample.queries).where(
            DatabaseSample.queries.is_not(None), DatabaseSample.at <= at + timedelta(hours=12))
            .order_by(DatabaseSample.at.desc()).limit(1)).first()

    latest, week, prev = nearest(now), nearest(now - timedelta(days=7)), nearest(now - timedelta(days=14))
    if latest is None or week is None or prev is None or len({latest.at, week.at, prev.at}) < 3:
        return {"assessed": False, "reason": "fewer than two weeks of daily query samples", "doubled": []}
    doubled = []
    for qid, now_q in latest.queries.items():
        w, p = week.queries.get(qid), prev.queries.get(qid)
        if w is None or p is None:
            continue
        calls_w, calls_p = now_q["calls"] - w["calls"], w["calls"] - p["calls"]
        if calls_w < SLOW_MIN_CALLS or calls_p < SLOW_MIN_CALLS:
            continue
        mean_w = (now_q["total_ms"] - w["total_ms"]) / calls_w
        mean_p = (w["total_ms"] - p["total_ms"]) / calls_p
        if mean_w >= SLOW_MIN_MEAN_MS and mean_p > 0 and mean_w > 2 * mean_p:
            doubled.append({"fingerprint": now_q.get("fingerprint"), "query": now_q.get("query"),
                            "mean_ms_week": round(mean_w, 2), "mean_ms_previous_week": round(mean_p, 2),
                            "calls_week": calls_w})
    doubled.sort(key=lambda d: -d["mean_ms_week"] / d["mean_ms_previous_week"])
    return {"assessed": True, "doubled": doubled}


# -- one view for health, metrics, reports -------------------------------------------------
def snapshot(session: Session, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Everything above in one dict; on SQLite `{"assessed": False, "reason": ...}` plus the size."""
    now = now or datetime.now(timezone.utc)
    size = size_bytes(session)
    if not is_postgres(session):
        return {"assessed": False, "reason": NOT_ASSESSED, "size_bytes": size}
    out: dict[str, Any] = {"assessed": True, "connections": connections(session),
                           "size": growth(session, now, size, settings.db_size_limit_gb).as_dict(),
                           "long_transactions": long_transactions(
                               session, timedelta(minutes=settings.alert_long_transaction_minutes)),
                           "lock_waits": lock_waits(session), "bloat": bloat(session)}
    if statements_available(session):
        out["slow_queries"] = {"available": True, "top": [
            {k: s[k] for k in ("fingerprint", "query", "calls", "mean_ms", "p95_ms")}
            for s in statements(session, TOP_QUERIES)]}
    else:
        out["slow_queries"] = {"available": False,
                               "reason": "pg_stat_statements is not installed or not preloaded", "top": []}
    return out
