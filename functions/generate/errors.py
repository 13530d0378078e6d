"""Why a generation request cannot be served, in the domain's words, and their one HTTP reading.

The budget and the pipeline raise these (never HTTP problems), so their callers
can tell "a spend cap refused the call" from any other failure by type. The edge
(`handlers`) turns them into the contract's problem+json with `to_problem`: one
small function, so an exception registry can map every type here in one line.
"""

from __future__ import annotations

from typing import Literal

from shared import errors

Scope = Literal["user", "day", "month"]  # whose cap: the user's daily one, or the service's daily/monthly one
Reason = Literal["budget_spent", "budget_in_flight"]  # the period is used up / live reservations fill it


class SpendRefused(Exception):
    """No further paid call for this request: the spend cannot be reserved."""


class BudgetExhausted(SpendRefused):
    """A spend cap refused the reservation; `retry_after` seconds until it can succeed."""

    def __init__(self, scope: Scope, reason: Reason, retry_after: int) -> None:
        super().__init__(f"{scope} budget: {reason}")
        self.scope, self.reason, self.retry_after = scope, reason, max(1, int(retry_after))


class AccountErased(SpendRefused):
    """The user was erased while the request ran: nothing may be spent or stored for them."""


class NoProviderAvailable(Exception):
    """No provider could serve the request (down, open circuit, invalid output, or out of time)."""

    def __init__(self, retry_after: int, *, out_of_time: bool = False) -> None:
        super().__init__("no provider could serve" + (" within the deadline" if out_of_time else ""))
        self.retry_after, self.out_of_time = max(1, int(retry_after)), out_of_time


def to_problem(exc: SpendRefused | NoProviderAvailable) -> errors.Problem:
    """The problem+json (docs: DESIGN.md, "Budgets" and "Failover") for a domain error of generate."""
    from functions.generate.ledger import ERASED_DETAIL

    if isinstance(exc, AccountErased):
        return errors.Gone(ERASED_DETAIL)
    if isinstance(exc, NoProviderAvailable):
        when = " within the generation deadline" if exc.out_of_time else ""
        return errors.ServiceUnavailable(f"No AI provider could serve this request{when}; try again later.",
                                         retry_after=exc.retry_after)
    if isinstance(exc, BudgetExhausted):
        kind = errors.TooManyRequests if exc.scope == "user" else errors.ServiceUnavailable
        return kind(_budget_detail(exc), retry_after=exc.retry_after, reason=exc.reason)
    raise TypeError(f"no problem for {type(exc).__name__}")


def _budget_detail(exc: BudgetExhausted) -> str:
    if exc.reason == "budget_in_flight":
        whose = "Your daily" if exc.scope == "user" else f"The service's {'monthly' if exc.scope == 'month' else 'daily'}"
        return (f"{whose} generation budget is held by calls still in flight; "
                f"it is not used up. Try again in {exc.retry_after} seconds.")
    if exc.scope == "month":
        return "The service's monthly generation budget is used up; it resets on the 1st (UTC)."
    if exc.scope == "day":
        return "The service's daily generation budget is used up; it resets at midnight UTC."
    return "Your daily generation budget is used up; it resets at midnight UTC."
