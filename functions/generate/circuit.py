"""A circuit breaker per provider, shared by every instance through `provider_circuits`.

After `FAILURE_THRESHOLD` consecutive failed calls a provider is skipped for
`COOL_DOWN_SECONDS` (LiteLLM's gateway uses 3 and 5 s; a generation call is far
longer, so we cool down for 30 s). When the cool-down ends the circuit is
half-open: exactly one request across all instances may probe it, by claiming
a lease in the database (`claim_probe`, a conditional UPDATE: one round trip,
and only while half-open); the others skip the provider. A success closes the
circuit, a failure re-opens it at once because the failure count is still at
the threshold, and a probe whose request ends otherwise releases its lease (a
crashed instance's lease lapses by itself). Only outages count: the pipeline
never records a failure for a 4xx that says our request was wrong. Updates are
atomic upserts, so concurrent instances never lose a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from shared.models import ProviderCircuit, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

FAILURE_THRESHOLD = 3
COOL_DOWN_SECONDS = 30.0
IN_PROCESS = frozenset({"mock"})  # offline providers cannot have an outage; no database round trip


@dataclass(frozen=True)
class CircuitState:
    failures: int = 0
    open_until: datetime | None = None
    probe_until: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        return self.open_until is not None and self.open_until > now

    def half_open(self, now: datetime) -> bool:
        return self.failures >= FAILURE_THRESHOLD and not self.is_open(now)


def states(names: list[str]) -> dict[str, CircuitState]:
    """Current state of each named provider (closed when never seen)."""
    wanted = [n for n in names if n not in IN_PROCESS]
    found: dict[str, CircuitState] = {n: CircuitState() for n in names}
    if not wanted:
        return found
    from shared.database import single_statements

    with single_statements() as connection:  # one read on every generation: columns, no ORM
        params = {f"name{i}": name for i, name in enumerate(wanted)}
        for row in connection.execute(_states_statement(len(wanted)), params):
            found[row.provider] = CircuitState(row.failures, row.open_until, row.probe_until)
    return found


@lru_cache(maxsize=8)
def _states_statement(count: int):
    """The read of `count` providers' rows (:name0, :name1, …), built once per count: a fixed IN
    list compiles once, where an expanding parameter is re-rendered on every execution."""
    from sqlalchemy import bindparam, select

    c = ProviderCircuit
    return select(c.provider, c.failures, c.open_until, c.probe_until).where(
        c.provider.in_([bindparam(f"name{i}") for i in range(count)]))


def _upsert(session, values: dict, update: dict):
    from shared.database import upsert

    stmt = upsert(session, ProviderCircuit.__table__).values(**values)
    return stmt.on_conflict_do_update(index_elements=[ProviderCircuit.provider], set_=update)


def record_failure(name: str) -> None:
    if name in IN_PROCESS:
        return
    from sqlalchemy import case

    from shared.database import session_scope

    now = utcnow()
    until = now + timedelta(seconds=COOL_DOWN_SECONDS)
    table = ProviderCircuit.__table__
    with session_scope() as session:
        session.execute(_upsert(
            session,
            {"provider": name, "failures": 1, "open_until": until if FAILURE_THRESHOLD <= 1 else None,
             "updated_at": now},
            {
                "failures": table.c.failures + 1,
                "open_until": case((table.c.failures + 1 >= FAILURE_THRESHOLD, until), else_=table.c.open_until),
                "probe_until": None,
                "updated_at": now,
            },
        ))


def claim_probe(name: str, lease_seconds: float) -> bool:
    """Take the half-open circuit's single probe for `lease_seconds`; False when another request holds it."""
    if name in IN_PROCESS:
        return True
    from sqlalchemy import or_, update

    from shared.database import session_scope

    now = utcnow()
    c = ProviderCircuit
    with session_scope() as session:
        result = session.execute(
            update(c).where(c.provider == name, c.failures >= FAILURE_THRESHOLD,
                            or_(c.open_until.is_(None), c.open_until <= now),
                            or_(c.probe_until.is_(None), c.probe_until <= now))
            .values(probe_until=now + timedelta(seconds=max(1.0, lease_seconds)), updated_at=now))
        # An UPDATE yields a CursorResult; Session.execute is typed for any statement.
        return cast("CursorResult[Any]", result).rowcount == 1


def release_probe(name: str, previous: CircuitState) -> None:
    """Give the probe back without a verdict (the request stopped before the provider answered)."""
    if name in IN_PROCESS or previous.failures < FAILURE_THRESHOLD:
        return
    from sqlalchemy import update

    from shared.database import session_scope

    with session_scope() as session:
        session.execute(update(ProviderCircuit).where(ProviderCircuit.provider == name)
                        .values(probe_until=None, updated_at=utcnow()))


def record_success(name: str, previous: CircuitState) -> None:
    """Close the circuit; a no-op (no write) when it was already clean."""
    if name in IN_PROCESS or (previous.failures == 0 and previous.open_until is None):
        return
    from sqlalchemy import update

    from shared.database import session_scope

    with session_scope() as session:
        session.execute(update(ProviderCircuit).where(ProviderCircuit.provider == name)
                        .values(failures=0, open_until=None, probe_until=None, updated_at=utcnow()))
