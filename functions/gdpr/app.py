"""GDPR function's app factory: `create_app(settings)`; `main.py` is the entry point.

Data-subject rights for the caller (`/v1/me/...`) and, for admins, on behalf of
any user (`/v1/users/{user_id}/...`). Only wiring here; each right has its module.
Handlers and payload models are `"module:attr"` references, imported on the first
request that needs them (docs/ARCHITECTURE.md, "Lazy imports").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.auth import ANY_ROLE
from shared.http import FunctionApp, Route
from shared.middleware import standard_middleware
from shared.readiness import readiness_routes

if TYPE_CHECKING:
    from shared.settings import Settings

ADMIN = frozenset({"admin"})


def _schema(name: str) -> str:
    return f"functions.gdpr.schemas:{name}"


def _routes(prefix: str, roles: frozenset[str], who: str) -> list[Route]:
    """Routes that change or hand out personal data (rectify, erase, export, consent, restriction)
    check the caller's key afresh (`fresh_auth`), so a revocation, role change or erasure made on
    any instance applies at once; the two cheap reads (profile, consents) keep the key cache."""
    unknown = {404: "Unknown user"} if roles == ADMIN else {}
    routes = [
        Route(prefix, "functions.gdpr.rectification:show", roles=roles, response=_schema("UserOut"), responses=unknown,
              summary=f"The profile of {who}"),
        Route(prefix, "functions.gdpr.rectification:rectify", methods=("PATCH",), roles=roles, body=_schema("Rectification"),
              response=_schema("UserOut"), responses={409: "Email already in use", **unknown},
              summary=f"Rectify the email or display name of {who} (Art. 16)"),
        Route(prefix, "functions.gdpr.erasure:erase", methods=("DELETE",), roles=roles, body=_schema("ErasureConfirmation"),
              response=_schema("ErasureReceipt"), responses={409: "The last remaining admin cannot be erased",
                                                         500: "Erasure could not be verified; nothing changed", **unknown},
              summary=f"Erase {who} (Art. 17); body {{\"confirm\": \"erase my data\"}}"),
        Route(prefix + "/export", "functions.gdpr.export:export", roles=roles, response=_schema("ExportDocument"), responses=unknown,
              summary=f"Everything held about {who}, as one streamed JSON document (Art. 15, 20)"),
        Route(prefix + "/consents", "functions.gdpr.consent:list_consents", roles=roles, response=_schema("ConsentsOut"), responses=unknown,
              summary=f"Consent of {who} per purpose (default not granted)"),
        Route(prefix + "/consents/<purpose>", "functions.gdpr.consent:set_consent", methods=("PUT",), roles=roles,
              body=_schema("ConsentChange"), response=_schema("ConsentOut"), responses={404: "Unknown purpose or user"},
              summary=f"Grant or withdraw one purpose for {who} (Art. 7)"),
        Route(prefix + "/restriction", "functions.gdpr.restriction:restrict", methods=("POST",), roles=roles, status=204,
              responses=unknown, summary=f"Restrict processing for {who} (Art. 18): generation refused"),
        Route(prefix + "/restriction", "functions.gdpr.restriction:lift", methods=("DELETE",), roles=roles, status=204,
              responses=unknown, summary=f"Lift the restriction of processing for {who}"),
    ]
    for route in routes:
        if route.methods != ("GET",) or route.rule.endswith("/export"):
            route.options["fresh_auth"] = True
    return routes


def create_app(settings: Settings | None) -> FunctionApp:
    """The GDPR function with `settings` (None: the process's, loaded on first use). No I/O."""
    return FunctionApp(
        "gdpr",
        readiness_routes() + _routes("/v1/me", ANY_ROLE, "the caller") + _routes("/v1/users/<user_id>", ADMIN, "a user (admin)"),
        middleware=standard_middleware("gdpr", settings),
        settings=settings,
    )
