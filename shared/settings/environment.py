"""The few variables a process reads before its settings load, and the one place it touches
`os.environ` outside the settings model. No pydantic here: `/livez` and cold start import
this module, never `shared.settings.model`.

Read before the settings (documented in `.env.example`, names fixed by DESIGN.md):

- `ENVIRONMENT`: whether a function loads and checks its settings at startup (production)
  or on first use (elsewhere, so `/livez` costs no pydantic);
- `LOG_LEVEL`: the level of the first log line, written before the settings may load
  (an invalid value means `info` here; loading the settings then refuses it);
- `OTEL_EXPORTER_OTLP_ENDPOINT`: whether tracing is on. It is OpenTelemetry's own variable,
  not one of our settings: the SDK reads it and the other `OTEL_*` itself.

Everything else is a setting (`shared.settings.model.Settings`), read once and handed to each
utility as its own small config object (docs/ARCHITECTURE.md, "Settings").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LOG_LEVELS = ("debug", "info", "warning", "error")
OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"


@dataclass(frozen=True)
class Environment:
    """What is known before the settings load: `name` (ENVIRONMENT, lower case, "" when unset),
    `log_level` and `otlp_endpoint` (None: tracing off)."""

    name: str = ""
    log_level: str = "info"
    otlp_endpoint: str | None = None

    @property
    def is_production(self) -> bool:
        return self.name == "production"


def read_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """The pre-settings variables of `environ` (default: this process's)."""
    env = os.environ if environ is None else environ
    level = env.get("LOG_LEVEL", "info").strip().lower()
    return Environment(name=env.get("ENVIRONMENT", "").strip().lower(),
                       log_level=level if level in LOG_LEVELS else "info",
                       otlp_endpoint=env.get(OTLP_ENDPOINT, "").strip() or None)


def subprocess_environment(*, drop_prefix: str, extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment for a child process, without the variables starting with
    `drop_prefix` and with `extra` added (jobs/dump.py: libpq's `PG*` replaced by the target's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefix)}
    env.update(extra)
    return env


def default_library_variable(name: str, value: str) -> None:
    """Set a third-party library's own variable (read by the library at import) unless the
    operator set it: jobs/cost_report gives matplotlib a config folder (`MPLCONFIGDIR`)."""
    os.environ.setdefault(name, value)
