"""`MetricsConfig`: request metrics capture (`METRICS_ENABLED`, `METRICS_BUFFER_MAX`,
`METRICS_BATCH_SIZE`, `METRICS_FLUSH_SECONDS`, `METRICS_INSTANCE_SAMPLE_SECONDS`) and the
database the records go to, built from the settings at startup and handed to the middleware.

A function whose settings are loaded on first use (outside production: `/livez` must not import
pydantic) gets `DEFERRED`: the settings' defaults and no database. Its records name no database;
the writer thread loads the process's settings when it first writes them, drops them if those
turn capture off, and follows those settings from then on (`MetricsRecorder`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import Settings

ANALYTICS = "analytics"  # the consent purpose that lets a record keep its user


@dataclass(frozen=True)
class MetricsConfig:
    """One app's capture settings (defaults: the Settings defaults). `database_url` None: the
    process's settings decide, when the writer loads them."""

    enabled: bool = True
    buffer_max: int = 20_000
    batch_size: int = 500
    flush_seconds: float = 2.0
    instance_sample_seconds: float = 30.0
    database_url: str | None = None

    @classmethod
    def of(cls, settings: "Settings") -> "MetricsConfig":
        return cls(settings.metrics_enabled, settings.metrics_buffer_max, settings.metrics_batch_size,
                   settings.metrics_flush_seconds, settings.metrics_instance_sample_seconds, settings.database_url)

    @property
    def deferred(self) -> bool:
        """Whether the settings were not loaded when this was built (no database known yet)."""
        return self.database_url is None


DEFERRED = MetricsConfig()
