"""The gdpr function's entry points, each importing its right's module on first use.

The modules behind them need SQLAlchemy and the data model (~0.3 s to
import); loading them lazily keeps the cold start of answers that need no
database (401 without a key, 404, `/openapi.json`) close to a bare function.
"""

from __future__ import annotations

from typing import Any

from shared.http import RequestContext


def show(ctx: RequestContext, user_id: str | None = None) -> Any:
    from functions.gdpr import rectification

    return rectification.show(ctx, user_id)


def rectify(ctx: RequestContext, user_id: str | None = None) -> Any:
    from functions.gdpr import rectification

    return rectification.rectify(ctx, user_id)


def erase(ctx: RequestContext, user_id: str | None = None) -> Any:
    from functions.gdpr import erasure

    return erasure.erase(ctx, user_id)


def export(ctx: RequestContext, user_id: str | None = None) -> Any:
    from functions.gdpr import export as module

    return module.export(ctx, user_id)


def list_consents(ctx: RequestContext, user_id: str | None = None) -> Any:
    from functions.gdpr import consent

    return consent.list_consents(ctx, user_id)


def set_consent(ctx: RequestContext, purpose: str, user_id: str | None = None) -> Any:
    from functions.gdpr import consent

    return consent.set_consent(ctx, purpose, user_id)


def restrict(ctx: RequestContext, user_id: str | None = None) -> None:
    from functions.gdpr import restriction

    return restriction.restrict(ctx, user_id)


def lift(ctx: RequestContext, user_id: str | None = None) -> None:
    from functions.gdpr import restriction

    return restriction.lift(ctx, user_id)
