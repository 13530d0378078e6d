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
    # False: `factual` is the offline screen (a neutral prior and red flags), no claim was checked.
    factual_verified: bool = False
    not_assessed: list[str] = field(default_factory=list)  # dimensions with no valid method here
    judge: str | None = None  # the provider whose review informed factual and educational_value
    # The weaknesses per dimension and the integrity ones, kept so a judge's review can re-decide.
    by_dimension: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)
    first: list[str] = field(default_factory=list, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The API's `quality` object: overall, passed, dimensions, thresholds, and how far it was verified."""
        return {
            "overall": self.overall,
            "passed": self.passed,
            "dimensions": dict(self.dimensions),
            "thresholds": dict(self.thresholds),
            "factual_verified": self.factual_verified,
            "not_assessed": list(self.not_assessed),
            "judge": self.judge,
        }

    def failed_thresholds(self) -> list[str]:
        """Names of the thresholds this report misses ('overall', 'educational_value', 'factual')."""
        values = {"overall": self.overall, **self.dimensions}
        return [k for k, limit in self.thresholds.items() if values.get(k, 0.0) < limit]
