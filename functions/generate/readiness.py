"""Generate's own readiness: at least one provider it may call (DESIGN "Readiness per service").

A provider counts when it has credentials in this process and its shared
circuit is not open; `mock` only outside production. Never calls a provider.
"""

from __future__ import annotations

from shared.readiness import Check, check
from shared.timestamps import iso


def check_providers() -> list[Check]:
    from functions.generate import circuit
    from shared.models import utcnow
    from shared.settings import get_settings

    settings = get_settings()
    states = circuit.states(settings.providers)
    now = utcnow()
    out = []
    for name in settings.providers:
        state = states[name]
        if name == "mock":
            why = "mock refused in production" if settings.is_production else None
        else:
            why = settings.missing_credentials(name)
        if why is None and state.is_open(now):
            why = f"circuit open until {iso(state.open_until)}"
        model = getattr(settings, f"{name}_model", None)
        detail = why or (f"model {model}" if model else "offline mock provider")
        out.append(check("warn" if why else "pass", "component", detail, componentId=name))
    if not any(item["status"] == "pass" for item in out):
        for item in out:
            item["status"] = "fail"
    return out
