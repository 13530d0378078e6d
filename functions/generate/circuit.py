"""A circuit breaker per provider, shared by every instance through `provider_circuits`.

After `FAILURE_THRESHOLD` consecutive failed calls a provider is skipped for
`COOL_DOWN_SECONDS` (LiteLLM's gateway uses 3 and 5 s; a generation call is far
longer, so we cool down for 30 s). When the cool-down ends one request may try
again (half-open): a success closes the circuit, a failure re-opens it at once
because the failure count is still at the threshold. Updates are atomic
upserts, so concurrent instances never lose a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.models import ProviderCircuit, utcnow

FAILURE_THRESHOLD = 3
COOL_DOWN_SECONDS = 30.0
IN_PROCESS = frozenset({"mock"})  # offline providers cannot have an outage; no database round trip


@dataclass(frozen=True)
class CircuitState:
    failures: int = 0
    open_until: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        return self.open_until is not None and self.open_until > now


def states(names: list[str]) -> dict[str, CircuitState]:
    """Current state of each named provider (closed when never seen)."""
    wanted = [n for n in names if n not in IN_PROCESS]
    found: dict[str, CircuitState] = {n: CircuitState() for n in names}
    if not wanted:
        return found
    from sqlalchemy import select

    from shared.database import session_scope

    with session_scope() as session:
        for row in session.execute(select(ProviderCircuit).where(ProviderCircuit.provider.in_(wanted))).scalars():
            found[row.provider] = CircuitState(row.failures, row.open_until)
    return found


def _upsert(session, values: dict, update: dict):
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(ProviderCircuit).values(**values)
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
                "updated_at": now,
            },
        ))


def record_success(name: str, previous: CircuitState) -> None:
    """Close the circuit; a no-op (no write) when it was already clean."""
    if name in IN_PROCESS or (previous.failures == 0 and previous.open_until is None):
        return
    from sqlalchemy import update

    from shared.database import session_scope

    with session_scope() as session:
        session.execute(update(ProviderCircuit).where(ProviderCircuit.provider == name)
                        .values(failures=0, open_until=None, updated_at=utcnow()))
