"""The database backend: counters in `rate_limit_counters`, shared by every instance."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from shared.errors import Unauthorized
from shared.ratelimit.buckets import Charge, Outcome, user_bucket_prefix

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy import BindParameter, Select, Table
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
    from sqlalchemy.engine import Connection, CursorResult
    from sqlalchemy.orm import Session
    from sqlalchemy.sql.dml import ReturningInsert

    ChargeStatement = ReturningInsert[int]


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
        from shared.database import transaction

        try:
            with transaction() as connection:  # one Core transaction: no ORM session on the request path
                counts: list[int] = []
                for n, charge in enumerate(charges):  # a fixed order (minute, then day): no two requests deadlock
                    count = _try_add(connection, charge, relax=n == 0) if charge.cost <= charge.limit else None
                    if count is None:
                        raise _Refused()  # rolls the transaction back: nothing is consumed
                    counts.append(count)
                return Outcome(True, tuple(counts))
        except _Refused:
            pass
        from sqlalchemy import select

        from shared.models import RateLimitCounter

        with transaction() as connection:
            key_id = next((c.key_id for c in charges if c.key_id is not None), None)
            if key_id is not None and not _key_live(connection, key_id):
                raise Unauthorized("The API key is invalid or revoked.")
            current = dict(connection.execute(
                select(RateLimitCounter.bucket, RateLimitCounter.count)
                .where(RateLimitCounter.bucket.in_([c.bucket for c in charges]))
            ).all())
        return Outcome(False, tuple(int(current.get(c.bucket, 0)) for c in charges))

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


class _Refused(Exception):
    """A charge would pass its limit: the transaction rolls back."""


def _try_add(connection: "Connection", charge: Charge, *, relax: bool = False) -> int | None:
    """One charge: the new count, or None when it would pass the limit (or the key is not live).
    With `relax` (PostgreSQL), the statement also relaxes this transaction's durability."""
    relaxed = relax and connection.dialect.name == "postgresql"
    stmt = _charge_statement(connection.dialect.name, relaxed, charge.key_id is not None)
    return connection.execute(stmt, {"bucket": charge.bucket, "cost": charge.cost, "expires_at": charge.expires_at,
                                     "limit": charge.limit, "key_id": charge.key_id}).scalar()


_STATEMENTS: dict[tuple[str, bool, bool], ChargeStatement] = {}


def _charge_statement(dialect: str, relaxed: bool, keyed: bool) -> ChargeStatement:
    """The conditional upsert of one charge, built once per shape with bound parameters:

    `INSERT … SELECT :bucket, :cost, :expires_at [WHERE EXISTS (live key FOR KEY SHARE)]
    ON CONFLICT (bucket) DO UPDATE SET count = count + cost WHERE count + cost <= :limit
    RETURNING count`; relaxed, the SELECT first runs `set_config('synchronous_commit', 'off',
    true)` (`_relaxed_row`)."""
    key = (dialect, relaxed, keyed)
    cached = _STATEMENTS.get(key)
    if cached is not None:
        return cached
    from sqlalchemy import bindparam

    from shared.models import RateLimitCounter

    insert: Callable[[Table], PostgresInsert | SqliteInsert]  # the same upsert API in both dialects
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = RateLimitCounter.__table__
    row = {"bucket": bindparam("bucket", type_=table.c.bucket.type),
           "count": bindparam("cost", type_=table.c.count.type),
           "expires_at": bindparam("expires_at", type_=table.c.expires_at.type)}
    if relaxed or keyed:
        source = _relaxed_row(row) if relaxed else _row(row)
        if keyed:
            source = source.where(_live_key(bindparam("key_id")).exists())
        upsert = insert(table).from_select(list(row), source)
    else:  # SQLite needs a WHERE in an INSERT … SELECT before ON CONFLICT: plain VALUES here
        upsert = insert(table).values(**row)
    stmt = upsert.on_conflict_do_update(
        index_elements=[table.c.bucket],
        set_={"count": table.c.count + upsert.excluded.count},
        where=(table.c.count + upsert.excluded.count) <= bindparam("limit", type_=table.c.count.type),
    ).returning(table.c.count)
    _STATEMENTS[key] = stmt
    return stmt


def _row(row: Mapping[str, BindParameter[Any]]) -> Select[Any]:
    from sqlalchemy import select

    return select(*[value.label(name) for name, value in row.items()])


def _live_key(key_id: str | BindParameter[str]) -> Select[int]:
    """The key's row if it is live, locked against its deletion (an erasure) until the transaction ends."""
    from sqlalchemy import literal, select

    from shared.models import ApiKey

    return (select(literal(1)).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .with_for_update(read=True, key_share=True))


def _key_live(connection: "Connection", key_id: str) -> bool:
    return connection.execute(_live_key(key_id)).first() is not None


def _relaxed_row(row: Mapping[str, BindParameter[Any]]) -> Select[Any]:
    """`SELECT <row>` that first runs `set_config('synchronous_commit', 'off', true)`.

    Counters are ephemeral: on PostgreSQL their commits need not wait for the
    WAL flush. The setting is local to this transaction (`SET LOCAL`, safe
    behind PgBouncer in transaction mode) and rides on the first upsert
    rather than costing a statement of its own. A database crash can lose the
    last few hundred milliseconds of increments, never corrupt them.
    """
    from sqlalchemy import func, select, true

    relaxed = select(func.set_config("synchronous_commit", "off", true()).label("setting")).cte("relaxed")
    return _row(row).select_from(relaxed)


def delete_user_counters(session: "Session", user_id: str) -> int:
    """Delete `user_id`'s database counters in the caller's transaction (used by erasure)."""
    from sqlalchemy import delete

    from shared.models import RateLimitCounter

    prefix = user_bucket_prefix(user_id).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result = session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.bucket.like(prefix + "%", escape="\\"))
    )
    # A DELETE yields a CursorResult; Session.execute is typed for any statement.
    return int(cast("CursorResult[Any]", result).rowcount or 0)

