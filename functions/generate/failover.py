"""Failover order and the circuit: which provider serves the next generation of a request.

Providers are tried in `AI_PROVIDERS` order, each admitted once per request by
its circuit breaker (closed, or half-open with this request holding the single
probe: `functions.generate.circuit`). A provider that cannot serve (outage,
invalid output twice, refusal, no price) leaves the rotation, recorded against
its circuit only for an outage. A document below the quality gate sends the
next generation to the next provider (quality-aware failover; round robin, so a
provider alone is simply asked again). `Rotation` holds that state; the circuit
is a `Circuit` (the database-backed module in production, a fake in a unit test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from functions.generate import circuit as db_circuit
from functions.generate.attempts import RetryHint
from functions.generate.circuit import CircuitState
from functions.generate.providers import Provider
from shared.logs import get_logger
from shared.models import utcnow

log = get_logger("lafactoria.generate")


class Circuit(Protocol):
    """The circuit breakers of the providers (`functions.generate.circuit` has exactly these functions)."""

    def states(self, names: list[str]) -> dict[str, CircuitState]: ...

    def record_failure(self, name: str) -> None: ...

    def record_success(self, name: str, previous: CircuitState) -> None: ...

    def claim_probe(self, name: str, lease_seconds: float) -> bool: ...

    def release_probe(self, name: str, previous: CircuitState) -> None: ...


DATABASE_CIRCUIT: Circuit = db_circuit


def refusal(breakers: Circuit, name: str, state: CircuitState, now: datetime,
            lease_seconds: float) -> Literal["open", "probing"] | None:
    """Why the circuit does not admit `name` now (None: admitted; a half-open one's probe is claimed)."""
    if state.is_open(now):
        return "open"
    if state.half_open(now) and not breakers.claim_probe(name, lease_seconds):
        return "probing"
    return None


@dataclass
class Rotation:
    """The providers still able to serve this request, and whose turn it is."""

    providers: list[Provider]
    breakers: Circuit
    lease: Callable[[], float]  # seconds a claimed probe is held: what the request's deadline leaves
    hint: RetryHint
    now: Callable[[], datetime] = utcnow
    states: dict[str, CircuitState] = field(init=False)
    _turn: int = field(default=0, init=False)
    _admitted: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self.providers = list(self.providers)
        self.states = self.breakers.states([p.name for p in self.providers])

    def next(self) -> Provider | None:
        """The provider for the next generation (admitted by its circuit), or None when none is left."""
        while self.providers:
            provider = self.providers[self._turn % len(self.providers)]
            if provider.name in self._admitted or self._admit(provider):
                return provider
            self._leave(provider)
        return None

    def failed(self, provider: Provider, *, outage: bool) -> None:
        """`provider` cannot serve this request: it leaves the rotation (its circuit hears of an outage)."""
        if outage:
            self.breakers.record_failure(provider.name)
        else:  # the provider answered: it is up, whatever was wrong with the answer
            self.served(provider)
        self._leave(provider)

    def served(self, provider: Provider) -> None:
        """`provider` answered: its circuit closes."""
        self.breakers.record_success(provider.name, self.states[provider.name])
        self.states[provider.name] = CircuitState()

    def rejected(self) -> None:
        """The document failed the gate: the next generation goes to the next provider."""
        self._turn += 1

    def stopped(self, provider: Provider) -> None:
        """The request stopped before `provider` answered (deadline, budget): give back its probe."""
        self.breakers.release_probe(provider.name, self.states[provider.name])

    def _admit(self, provider: Provider) -> bool:
        now = self.now()
        state = self.states[provider.name]
        why = refusal(self.breakers, provider.name, state, now, self.lease())
        if why == "open" and state.open_until is not None:
            self.hint.offer((state.open_until - now).total_seconds())
            log.info("provider skipped: circuit open", extra={"provider": provider.name})
            return False
        if why == "probing":
            self.hint.offer(db_circuit.COOL_DOWN_SECONDS)
            log.info("provider skipped: half-open, another request is probing it", extra={"provider": provider.name})
            return False
        self._admitted.add(provider.name)
        return True

    def _leave(self, provider: Provider) -> None:
        self._turn = self.providers.index(provider)  # the next one moves into its place
        self.providers.remove(provider)
