"""The database backend: counters in `rate_limit_counters`, shared by every instance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from shared.errors import Unauthorized
from shared.ratelimit.buckets import Charge, Outcome, user_bucket_prefix

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session


class DatabaseBackend:
    """Counters in `rate_limit_counters`, one transaction per request.

    Each charge is an `INSERT ... ON CONFLICT (bucket) DO UPDATE SET count =
    count + cost WHERE count + cost <= limit RETURNING count` (PostgreSQL and
    SQLite >= 3.35): the row lock (PostgreSQL) or the write lock (SQLite)
    makes it atomic across instances. If any charge returns no row the whole
    transaction is rolled back, so nothing is consumed.

    A charge counts only while its API key is live: the row comes from a
    `SELECT … WHERE EXISTS (live key, locked FOR KEY SHARE)`, in the same
    statement (no extra round trip). A key erased or revoked since this
    instance cached it (`AUTH_CACHE_SECONDS`) therefore creates no counter
    holding its person's ids, and the request gets 401. The lock orders it
    against an erasure, which deletes the key before the counters
    (`shared.erasure.rows`): a counter either exists before and is deleted, or
    is never written.
    """

    name = "database"

    def consume(self, charges: Sequence[Charge], now: datetime) -> Outcome:
        from sqlalchemy import select

        from shared.database import session_scope
        from shared.models import RateLimitCounter

        with session_scope() as session:
            counts: list[int] = []
            for n, charge in enumerate(charges):  # a fixed order (minute, then day): no two requests deadlock
                count = self._try_add(session, charge, relax=n == 0) if charge.cost <= charge.limit else None
                if count is None:
                    session.rollback()
                    if charge.key_id is not None and not _key_live(session, charge.key_id):
                        raise Unauthorized("The API key is invalid or revoked.")
                    current = dict(session.execute(
                        select(RateLimitCounter.bucket, RateLimitCounter.count)
                        .where(RateLimitCounter.bucket.in_([c.bucket for c in charges]))
                    ).all())
                    return Outcome(False, tuple(int(current.get(c.bucket, 0)) for c in charges))
                counts.append(count)
            return Outcome(True, tuple(counts))

    @staticmethod
    def _try_add(session: "Session", charge: Charge, *, relax: bool = False) -> int | None:
        """One charge; with `relax`, the statement also relaxes this transaction's durability
        (`_relaxed_row`), so that costs no round trip of its own."""
        from shared.database import upsert
        from shared.models import RateLimitCounter

        table = RateLimitCounter.__table__
        row = {"bucket": charge.bucket, "count": charge.cost, "expires_at": charge.expires_at}
        stmt = upsert(session, table)
        relaxed = relax and session.get_bind().dialect.name == "postgresql"
        if relaxed or charge.key_id is not None:
            source = _relaxed_row(table, row) if relaxed else _row(table, row)
            if charge.key_id is not None:
                source = source.where(_live_key(charge.key_id).exists())
            stmt = stmt.from_select(list(row), source)
        else:
            stmt = stmt.values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.bucket],
            set_={"count": table.c.count + stmt.excluded.count},
            where=(table.c.count + stmt.excluded.count) <= charge.limit,
        ).returning(table.c.count)
        return session.execute(stmt).scalar()

    def refund(self, charges: Sequence[Charge]) -> None:
        from sqlalchemy import case, update

        from shared.database import session_scope
        from shared.models import RateLimitCounter

        with session_scope() as session:
            for charge in charges:
                new = RateLimitCounter.count - charge.cost
                session.execute(
                    update(RateLimitCounter)
                    .where(RateLimitCounter.bucket == charge.bucket)
                    .values(count=case((new < 0, 0), else_=new))
                )

    def forget_user(self, user_id: str, session: "Session | None" = None) -> int:
        from shared.database import session_scope

        if session is not None:
            return delete_user_counters(session, user_id)
        with session_scope() as own:
            return delete_user_counters(own, user_id)


def _row(table, row: dict):
    from sqlalchemy import literal, select

    return select(*[literal(value, type_=table.c[name].type).label(name) for name, value in row.items()])


def _live_key(key_id: str):
    """The key's row if it is live, locked against its deletion (an erasure) until the transaction ends."""
    from sqlalchemy import literal, select

    from shared.models import ApiKey

    return (select(literal(1)).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .with_for_update(read=True, key_share=True))


def _key_live(session: "Session", key_id: str) -> bool:
    return session.execute(_live_key(key_id)).first() is not None


def _relaxed_row(table, row: dict):
    """`SELECT <row>` that first runs `set_config('synchronous_commit', 'off', true)`.

    Counters are ephemeral: on PostgreSQL their commits need not wait for the
    WAL flush. The setting is local to this transaction (`SET LOCAL`, safe
    behind PgBouncer in transaction mode) and rides on the first upsert
    rather than costing a statement of its own. A database crash can lose the
    last few hundred milliseconds of increments, never corrupt them.
    """
    from sqlalchemy import func, select, true

    relaxed = select(func.set_config("synchronous_commit", "off", true()).label("setting")).cte("relaxed")
    return _row(table, row).select_from(relaxed)


def delete_user_counters(session: "Session", user_id: str) -> int:
    """Delete `user_id`'s database counters in the caller's transaction (used by erasure)."""
    from sqlalchemy import delete

    from shared.models import RateLimitCounter

    prefix = user_bucket_prefix(user_id).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result = session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.bucket.like(prefix + "%", escape="\\"))
    )
    return int(result.rowcount or 0)

