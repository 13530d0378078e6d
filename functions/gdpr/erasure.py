"""Erasure (Art. 17): one transaction, then proof that nothing about the person remains.

Steps, all in one database transaction: lock the user row, delete or unlink
every row about them (`shared.erasure.erase_rows`), add the erasure
ledger row and the audit entry (pseudonyms only), then scan every string and
JSON column of every table for their id, email and key identifiers. Only if
the scan is clean does the transaction commit and the receipt say
`"verified": true`; otherwise everything rolls back and the caller gets a 500
problem (the columns concerned are logged, never the values).
"""

from __future__ import annotations

from shared import errors
from shared.database import session_scope
from shared.erasure import ErasureNotVerified, Identifiers, erase_rows, find_residue, identifiers, record
from shared.http import RequestContext
from shared.identity import LastAdminError, ensure_not_last_admin
from shared.logs import get_logger

from functions.gdpr import subjects
from functions.gdpr.schemas import ErasureConfirmation, ErasureReceipt

log = get_logger("lafactoria.gdpr.erasure")


def _confirmation(ctx: RequestContext) -> ErasureConfirmation:
    """An empty body is a missing confirmation (422), not malformed JSON."""
    if not ctx.raw_body().strip():
        raise errors.ValidationFailed([{"field": "confirm", "message": "Field required"}])
    return ctx.body(ErasureConfirmation)


def erase(ctx: RequestContext, user_id: str | None = None) -> ErasureReceipt:
    who = subjects.acting(ctx, user_id)
    _confirmation(ctx)
    return erase_subject(who, request_id=ctx.request_id)


def erase_subject(who: subjects.Acting, *, request_id: str | None = None) -> ErasureReceipt:
    """The erasure itself, for the HTTP routes and `factoria users delete` alike.

    Raises NotFound for an unknown user and a 500 Problem when the erasure could
    not be verified (then nothing was erased).
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
    _checkpoint_sqlite()
    return receipt


def _checkpoint_sqlite() -> None:
    """SQLite keeps erased rows' old pages in `-wal` until a checkpoint: fold them into the
    file and truncate the log now. (PostgreSQL's dead tuples: docs/OPERATIONS.md.)"""
    from shared.database import get_engine
    from shared.settings import get_settings

    if not get_settings().is_sqlite:
        return
    try:
        with get_engine().connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception:  # noqa: BLE001 - the erasure is committed; the next checkpoint will do it
        log.warning("erasure: WAL checkpoint failed", exc_info=True)


def _purge_shared_counters(ids: Identifiers) -> None:
    """Rate-limit counters kept in Redis (when configured) expire within a day; drop them now.

    Best effort after the commit: Redis is not part of the database
    transaction, and a counter left behind holds no more than an id until it
    expires. The rate limiter names every counter after the user id, so its
    own `forget_user` finds them.
    """
    from shared.settings import get_settings

    url = get_settings().redis_url
    if not url:
        return
    try:
        from shared.ratelimit import RedisBackend

        removed = RedisBackend(url).forget_user(ids.user_id)
        log.info("erasure: shared counters removed", extra={"count": removed})
    except Exception:  # noqa: BLE001 - the erasure itself is committed and verified
        log.warning("erasure: could not remove shared counters from Redis", exc_info=True)
