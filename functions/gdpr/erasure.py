"""Erasure (Art. 17): one transaction, then proof that nothing about the person remains.

Steps, all in one database transaction: lock the user row, delete or unlink
every row about them (`shared.erasure.erase_rows`), add the erasure
ledger row and the audit entry (pseudonyms only), then scan every string and
JSON column of every table for their id, email and key identifiers. Only if
the scan is clean does the transaction commit and the receipt say
`"verified": true`; otherwise everything rolls back and the caller gets a 500
problem (the columns concerned are logged, never the values). Just before the
commit the ledger entry is also written to the backup store
(shared/erasure/offsite.py), so a restore after losing this database still
forgets the person; if the store cannot take it, nothing is committed and the
caller gets a 503 to retry.

After the commit, best effort (the erasure stands whatever happens): drop the
person's rate-limit counters from Redis, and make the database files forget
the erased rows: SQLite checkpoints its WAL, PostgreSQL vacuums the tables the
erasure touched (docs/OPERATIONS.md, "Data left on disk after an erasure").
Over HTTP that disk work runs after the receipt is returned, on this process's
one background thread (erasures queue behind each other there): VACUUM waits
for locks and reads every index, which no request should wait for. The proof
(the residue scan) still runs inside the transaction, before the receipt.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

from shared import errors
from shared.database import session_scope
from shared.erasure import (
    ErasureCounts,
    ErasureNotVerified,
    Identifiers,
    erase_rows,
    find_residue,
    identifiers,
    record,
)
from shared.http import RequestContext
from shared.identity import LastAdminError, ensure_not_last_admin
from shared.logs import get_logger

from functions.gdpr import subjects
from functions.gdpr.schemas import ErasureConfirmation, ErasureReceipt

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.engine import Engine

    from shared.models import Erasure

log = get_logger("lafactoria.gdpr.erasure")


def _confirmation(ctx: RequestContext) -> ErasureConfirmation:
    """An empty body is a missing confirmation (422), not malformed JSON."""
    if not ctx.raw_body().strip():
        raise errors.ValidationFailed([{"field": "confirm", "message": "Field required"}])
    return ctx.body(ErasureConfirmation)


def erase(ctx: RequestContext, user_id: str | None = None) -> ErasureReceipt:
    who = subjects.acting(ctx, user_id)
    _confirmation(ctx)
    return erase_subject(who, request_id=ctx.request_id, forget_on_disk=_after_receipt)


_disk_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="erasure-disk")
_pending: list[Future] = []


def _after_receipt(counts: ErasureCounts) -> None:
    """Queue the disk work (checkpoint, VACUUM) on the background thread."""
    _pending[:] = [f for f in _pending if not f.done()]
    _pending.append(_disk_worker.submit(_forget_on_disk, counts))


def wait_for_disk_work(timeout: float = 60.0) -> None:
    """Block until the queued disk work is done (tests, and a graceful shutdown's last step)."""
    for future in list(_pending):
        future.result(timeout=timeout)


def _forget_on_disk(counts: ErasureCounts) -> None:
    _checkpoint_sqlite()
    _vacuum_postgres(counts)


def erase_subject(who: subjects.Acting, *, request_id: str | None = None,
                  forget_on_disk: Callable[[ErasureCounts], None] = _forget_on_disk) -> ErasureReceipt:
    """The erasure itself, for the HTTP routes and `factoria users delete` alike.

    Raises NotFound for an unknown user and a 500 Problem when the erasure could
    not be verified (then nothing was erased). `forget_on_disk(counts)` runs after the
    commit: here by default (the CLI), queued off the request over HTTP.
    """
    try:
        with session_scope() as s:
            ids = identifiers(s, who.user_id, lock=True)
            if ids is None:
                raise errors.NotFound("No such user.")
            try:
                ensure_not_last_admin(s, ids.user_id)
            except LastAdminError as exc:
                raise errors.Conflict(f"Refused: {exc}.") from None
            counts = erase_rows(s, ids)
            ledger = record(s, who.subject, who.requested_by, counts.deleted)
            subjects.record_audit(s, who, "gdpr.erasure", {
                "erasure_id": ledger.id, "deleted": counts.deleted, "anonymised": counts.anonymised,
            }, request_id=request_id)
            residue = find_residue(s, ids)
            if residue:
                raise ErasureNotVerified(residue)
            _write_offsite(ledger)
            receipt = ErasureReceipt(erasure_id=ledger.id, erased_at=ledger.erased_at,
                                     deleted=counts.deleted, verified=True)
    except ErasureNotVerified as exc:
        columns = sorted({str(r) for r in exc.residue})
        log.error("erasure rolled back: personal data would remain",
                  extra={"residue": columns, "subject": who.subject})
        with session_scope() as s:  # the refusal itself is accounted for (column names only)
            subjects.record_audit(s, who, "gdpr.erasure.unverified", {"columns": columns}, request_id=request_id)
        raise errors.Problem(
            "The erasure could not be verified, so nothing was erased; the incident has been logged."
        ) from None
    log.info("erasure done", extra={"subject": who.subject, "erasure_id": receipt.erasure_id,
                                    "requested_by": who.requested_by})
    _purge_shared_counters(ids)
    forget_on_disk(counts)
    return receipt


def _write_offsite(ledger: Erasure) -> None:
    """The ledger entry into the backup store, encrypted; a 503 (and a rollback) if the store refuses."""
    from shared.backup_crypto import Keyring
    from shared.erasure import offsite
    from shared.settings import get_settings
    from shared.storage import StoreError, open_store

    settings = get_settings()
    try:
        offsite.write(open_store(settings.backup_url), Keyring.from_settings(settings), offsite.StoredErasure(
            ledger.subject, ledger.erased_at, ledger.requested_by, dict(ledger.deleted or {})))
    except StoreError as exc:
        log.error("erasure not committed: the backup store did not take its ledger entry",
                  extra={"error": str(exc)})
        raise errors.ServiceUnavailable("The erasure could not be recorded outside the database, so nothing "
                                        "was erased; retry later.", retry_after=60) from None


def _checkpoint_sqlite() -> None:
    """SQLite keeps erased rows' old pages in `-wal` until a checkpoint: fold them into the
    file and truncate the log now. (PostgreSQL's counterpart: `_vacuum_postgres`.)"""
    from shared.database import get_engine
    from shared.settings import get_settings

    if not get_settings().is_sqlite:
        return
    try:
        with get_engine().connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception:  # noqa: BLE001 - the erasure is committed; the next checkpoint will do it
        log.warning("erasure: WAL checkpoint failed", exc_info=True)


# How long the vacuum waits for a table's lock (another VACUUM, a migration) before giving that table up.
VACUUM_LOCK_TIMEOUT = "5s"


def _touched_tables(counts: ErasureCounts) -> list[str]:
    """Tables the erasure deleted rows from or unlinked rows in, parents first.

    Unlinked rows count too: the row versions from before `user_id` was set
    to NULL still hold the id. Names come from the models only, never from
    the counts' keys as such, so nothing but a known table reaches SQL.
    """
    from shared.models import Base

    touched = {table for table, n in [*counts.deleted.items(), *counts.anonymised.items()] if n}
    return [table.name for table in Base.metadata.sorted_tables if table.name in touched]


def _vacuum_postgres(counts: ErasureCounts) -> None:
    """PostgreSQL keeps deleted rows, and the versions of updated ones, as dead tuples in the
    table and index pages (the email readable off disk) until VACUUM: vacuum the tables this
    erasure touched, now. Afterwards no tuple holds the person; the bytes VACUUM freed stay in
    the pages' unallocated space until new rows overwrite them (PostgreSQL does not zero it;
    docs/OPERATIONS.md says what remains and what covers it).

    - `VACUUM (INDEX_CLEANUP ON)`, one statement per table: since PostgreSQL 14
      a plain VACUUM skips the index pass when few pages hold dead rows, which
      is exactly an erasure's case, and would leave the email in the unique
      index on `users.email`. The index pass reads every index of the table
      once, a cost of the same order as the residue proof's full scan.
    - Its own one-connection engine in AUTOCOMMIT (VACUUM cannot run in a
      transaction block), disposed afterwards; table names quoted by the
      dialect.
    - Bounds, talking to PostgreSQL directly: `SET lock_timeout` on that
      private connection (closed afterwards, so the setting dies with it) and
      the engine's statement timeout (`DB_STATEMENT_TIMEOUT_MS` in a function,
      `JOB_STATEMENT_TIMEOUT_MS` for the CLI). Waiting up to the lock timeout,
      rather than not at all, lets PostgreSQL cancel an autovacuum holding the
      table (after `deadlock_timeout`) and a concurrent erasure's vacuum finish.
    - Behind PgBouncer's transaction pooling (`DB_PGBOUNCER=true`) a session
      `SET` would stay on whichever server connection ran it and apply to
      other clients' transactions, and `SET LOCAL` does nothing outside a
      transaction block; so no setting is sent (nor the per-transaction
      statement timeout) and `SKIP_LOCKED` makes VACUUM never wait for a
      table's lock. Each statement is its own transaction, which transaction
      pooling serves as is; how long one may run is then PgBouncer's
      `query_timeout` (or a `statement_timeout` set on the role).
    - Best effort: the erasure is committed and verified whatever happens
      here. A table not vacuumed (an error, or VACUUM's own warning that it
      skipped one: lock not available, permission denied) is logged as a
      warning naming the tables and the reason, never data; the operator runs
      `VACUUM` on them (docs/OPERATIONS.md).
    """
    import time

    from shared.database import is_postgres, make_engine
    from shared.settings import get_settings

    tables = _touched_tables(counts)
    if not tables or not is_postgres():
        return
    settings = get_settings()
    started = time.monotonic()
    engine = make_engine(settings.database_url, pool_size=1,
                         statement_timeout_ms=0 if settings.db_pgbouncer else None)
    try:
        pending = _vacuum_each(engine, tables, bouncer=settings.db_pgbouncer)
    finally:
        engine.dispose()
    took_ms = round((time.monotonic() - started) * 1000)
    if pending:
        log.warning("erasure: tables not vacuumed; their dead rows hold the person until VACUUM",
                    extra={"not_vacuumed": pending, "vacuumed": [t for t in tables if t not in pending],
                           "duration_ms": took_ms})
    else:
        log.info("erasure: tables vacuumed", extra={"vacuumed": tables, "duration_ms": took_ms})


def _vacuum_each(engine: Engine, tables: list[str], *, bouncer: bool) -> dict[str, str]:
    """VACUUM `tables` one by one on one AUTOCOMMIT connection of `engine` (see `_vacuum_postgres`);
    the tables left not vacuumed, each with why."""
    options = "INDEX_CLEANUP ON, SKIP_LOCKED" if bouncer else "INDEX_CLEANUP ON"
    pending: dict[str, str | None] = dict.fromkeys(tables)  # table -> why it is not vacuumed (None: not tried)
    warned: list[str] = []  # SQLSTATEs of the warnings VACUUM sends when it skips a table instead of failing

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        if diag.severity_nonlocalized == "WARNING":
            warned.append(diag.sqlstate or "01000")  # the server always sends one; 01000 is plain "warning"

    try:
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            # SQLAlchemy types the driver's connection as Any; on PostgreSQL it is psycopg's (shared.database).
            driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
            driver.add_notice_handler(on_notice)
            if not bouncer:
                conn.exec_driver_sql(f"SET lock_timeout = '{VACUUM_LOCK_TIMEOUT}'")
            for table in tables:
                warned.clear()
                try:
                    conn.exec_driver_sql(f"VACUUM ({options}) {engine.dialect.identifier_preparer.quote(table)}")
                except Exception as exc:  # noqa: BLE001 - this table stays to be done; try the others
                    pending[table] = _error_name(exc)
                    continue
                if warned:
                    pending[table] = _sqlstate_name(warned[0])
                else:
                    del pending[table]
    except Exception as exc:  # noqa: BLE001 - no usable connection: what was not tried failed with it
        return {table: why or _error_name(exc) for table, why in pending.items()}
    return {table: why for table, why in pending.items() if why is not None}


def _error_name(error: BaseException) -> str:
    """An error by its class only, never its message (psycopg names classes after the SQLSTATE:
    `LockNotAvailable`, `QueryCanceled`, `InsufficientPrivilege`)."""
    return type(getattr(error, "orig", None) or error).__name__


def _sqlstate_name(sqlstate: str) -> str:
    """A warning's SQLSTATE under the same names as `_error_name`'s."""
    from psycopg.errors import lookup

    try:
        return lookup(sqlstate).__name__
    except KeyError:
        return sqlstate


def _purge_shared_counters(ids: Identifiers) -> None:
    """Rate-limit counters kept in Redis (when configured) expire within a day; drop them now.

    Best effort after the commit: Redis is not part of the database
    transaction, and a counter left behind holds no more than an id until it
    expires. The rate limiter names every counter after the user id, so its
    own `forget_user` finds them; it first tombstones the person's keys, so
    another instance still caching a key writes no new counter (401).
    """
    from shared.settings import get_settings

    url = get_settings().redis_url
    if not url:
        return
    try:
        from shared.ratelimit import RedisBackend

        removed = RedisBackend(url).forget_user(ids.user_id, ids.key_ids)
        log.info("erasure: shared counters removed", extra={"count": removed})
    except Exception:  # noqa: BLE001 - the erasure itself is committed and verified
        log.warning("erasure: could not remove shared counters from Redis", exc_info=True)
