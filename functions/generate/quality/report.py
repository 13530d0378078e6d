"""The quality report handed to the generation loop and, through `as_dict`, to API clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

THRESHOLD_KEYS = ("overall", "educational_value", "factual")


def default_thresholds() -> dict[str, float]:
    """Thresholds from settings (QUALITY_THRESHOLD_OVERALL / _EDUCATIONAL / _FACTUAL)."""
    from shared.settings import get_settings

    settings = get_settings()
    return {
        "overall": settings.quality_threshold_overall,
        "educational_value": settings.quality_threshold_educational,
        "factual": settings.quality_threshold_factual,
    }


@dataclass(frozen=True)
class QualityReport:
    overall: float
    passed: bool
    dimensions: dict[str, float]
    thresholds: dict[str, float]
    # Human-readable and specific, most important first: fed back into a regeneration prompt.
    weaknesses: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The API's `quality` object: exactly overall, passed, dimensions, thresholds."""
        return {
            "overall": self.overall,
            "passed": self.passed,
            "dimensions": dict(self.dimensions),
            "thresholds": dict(self.thresholds),
        }

    def failed_thresholds(self) -> list[str]:
        """Names of the thresholds this report misses ('overall', 'educational_value', 'factual')."""
        values = {"overall": self.overall, **self.dimensions}
        return [k for k, limit in self.thresholds.items() if values.get(k, 0.0) < limit]
