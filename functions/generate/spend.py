"""One request's spend: a budget reservation before each provider call, its ledger row after it.

`Spend` holds what the request knows (user, ids, content type, the running
attempt number, the settled calls summed into the item's usage) and decides
each ledger row's fields; where reservations and rows go is a `Books`: the
budget and ledger in the database in production (`LedgerBooks`), a list in a
unit test. Every paid call is settled as soon as it returns, so a reservation
lives no longer than its call (`functions.generate.budget`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from functions.generate import budget, ledger
from functions.generate.providers import Call, Completion, Provider, ProviderError

if TYPE_CHECKING:
    from shared.models import UsageEvent
    from shared.settings import Settings


class Books(Protocol):
    """Where a request's reservations and ledger rows are kept."""

    def reserve(self, *, user_id: str, provider: str, model: str, input_tokens: int, max_output_tokens: int,
                **context: Any) -> str | None:
        """Hold the call's worst case; the reservation's id, None without a cap. Raises `budget.Unpriceable`
        or a `SpendRefused` (`functions.generate.errors`)."""

    def write(self, event: UsageEvent, reservation_id: str | None) -> None:
        """Record `event`, settling `reservation_id` into it when given."""

    def relabel(self, event_id: str, outcome: str) -> None:
        """Change a written row's outcome (no money moves)."""


@dataclass(frozen=True)
class LedgerBooks:
    """The budget's reservations and the ledger's rows in the database."""

    settings: Settings

    def reserve(self, *, user_id: str, provider: str, model: str, input_tokens: int, max_output_tokens: int,
                **context: Any) -> str | None:
        return budget.reserve(self.settings, user_id=user_id, provider=provider, model=model,
                              input_tokens=input_tokens, max_output_tokens=max_output_tokens, **context)

    def write(self, event: UsageEvent, reservation_id: str | None) -> None:
        from shared.database import session_scope, single_statements

        if ledger.stands_alone(event, reservation_id):  # the usual row: one statement, no session
            with single_statements() as connection:
                ledger.write_alone(connection, event)
            return
        with session_scope() as session:
            ledger.write(session, event, reservation_id)

    def relabel(self, event_id: str, outcome: str) -> None:
        from sqlalchemy import update

        from shared.database import session_scope
        from shared.models import UsageEvent

        with session_scope() as session:
            session.execute(update(UsageEvent).where(UsageEvent.id == event_id).values(outcome=outcome)
                            .execution_options(synchronize_session=False))


@dataclass
class Attempt:
    """One settled provider call, as summed into the item's usage."""

    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    cached_input_tokens: int | None = 0
    reasoning_tokens: int | None = 0


@dataclass
class Spend:
    """Reservations and settlements of one request's provider calls (not shared between requests)."""

    books: Books
    user_id: str
    request_id: str
    generation_id: str
    content_type: str
    attempts: list[Attempt] = field(default_factory=list)
    call_count: int = 0  # every call tried, retries included: the ledger's `attempt`

    def reserve(self, provider: Provider, call: Call) -> str | None:
        """Reserve the worst case of the next try of `call` (counted as an attempt unless refused as unpriceable)."""
        self.call_count += 1
        try:
            return self.books.reserve(
                user_id=self.user_id, provider=provider.name, model=provider.model,
                input_tokens=budget.input_bound(call.prompt.system, call.prompt.user, call.schema),
                max_output_tokens=call.max_output_tokens, request_id=self.request_id,
                generation_id=self.generation_id, content_type=self.content_type, attempt=self.call_count)
        except budget.Unpriceable:
            self.call_count -= 1
            raise

    def fields(self, provider: Provider, kind: str, outcome: str, completion: Completion | None = None,
               error: ProviderError | None = None, latency_ms: float | None = None,
               note: str | None = None) -> dict[str, Any]:
        """The ledger row of one call of this request (any kind, `judge` included)."""
        return {
            "user_id": self.user_id, "generation_id": self.generation_id, "request_id": self.request_id,
            "content_type": self.content_type, "provider": provider.name, "model": provider.model,
            "attempt": self.call_count, "kind": kind, "outcome": outcome, **_tokens(completion, error),
            "latency_ms": latency_ms, "error": note or (str(error) if error else None),
        }

    def settle(self, reservation_id: str | None, fields: dict[str, Any]) -> UsageEvent:
        """Turn the call's reservation (if any) into its ledger row, or add the row; returns the row."""
        event = ledger.usage_event(**fields)
        self.attempts.append(Attempt(event.input_tokens, event.output_tokens, event.cost_usd,
                                     event.cached_input_tokens or 0, event.reasoning_tokens or 0))
        self.books.write(event, reservation_id)
        return event

    def relabel(self, event: UsageEvent, outcome: str) -> None:
        """The judge changed a settled generation's verdict: its row's outcome follows (no money moves)."""
        self.books.relabel(event.id, outcome)


def _tokens(completion: Completion | None, error: ProviderError | None) -> dict[str, int | None]:
    if completion is not None:
        return completion.token_fields()
    if error is not None and error.status is not None:
        # An HTTP error response: the provider refused the request and bills nothing.
        return {"input_tokens": error.input_tokens if error.input_tokens is not None else 0,
                "output_tokens": error.output_tokens if error.output_tokens is not None else 0}
    return {"input_tokens": None, "output_tokens": None}  # timeout or broken connection: unknown
