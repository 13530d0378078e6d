"""Capture settings: `METRICS_ENABLED`, `METRICS_BUFFER_MAX`, `METRICS_BATCH_SIZE`, `METRICS_FLUSH_SECONDS`.

The request path must not import the settings (pydantic) for `/livez`: until
other code has loaded them, the defaults below apply.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import Settings

ANALYTICS = "analytics"  # the consent purpose that lets a record keep its user


@dataclass(frozen=True)
class MetricsConfig:
    """The Settings defaults, used on the request path while the settings are not loaded yet."""

    enabled: bool = True
    buffer_max: int = 20_000
    batch_size: int = 500
    flush_seconds: float = 2.0

    @classmethod
    def of(cls, settings: "Settings | None") -> "MetricsConfig":
        if settings is None:
            return DEFAULTS
        return cls(settings.metrics_enabled, settings.metrics_buffer_max, settings.metrics_batch_size,
                   settings.metrics_flush_seconds)


DEFAULTS = MetricsConfig()


def loaded_settings() -> "Settings | None":
    """The settings if this process has loaded them already, else None (never imports them)."""
    module = sys.modules.get("shared.settings")
    return module.get_settings() if module is not None else None
