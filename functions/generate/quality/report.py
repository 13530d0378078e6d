"""The quality report handed to the generation loop and, through `as_dict`, to API clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

THRESHOLD_KEYS = ("overall", "educational_value", "factual")
# A failure this far below a threshold is not a matter of doubt: only then does a regeneration pay.
CONFIDENT_MARGIN = 0.15
MAX_REASONS_PER_DIMENSION = 3
# Integrity (nonsense, repetition, wrong language, templates) multiplies these dimensions, so its
# findings are their reasons too.
_INTEGRITY_DRIVEN = ("coverage", "educational_value", "engagement")


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
            "reasons": self.reasons(),
        }

    def failing_dimensions(self) -> list[str]:
        """Dimensions below their own threshold, or (without one) below the overall threshold; when only
        the overall mean fails, the weakest dimension. Empty for a document that passed."""
        if self.passed:
            return []
        overall_limit = self.thresholds.get("overall", 0.0)
        failing = [k for k, v in sorted(self.dimensions.items(), key=lambda kv: kv[1])
                   if v < self.thresholds.get(k, overall_limit)]
        if not failing and self.dimensions:
            failing = [min(self.dimensions, key=lambda k: self.dimensions[k])]
        return failing

    def reasons(self) -> list[dict[str, str]]:
        """[{dimension, finding}] in plain words: at least one for each failing dimension, none for passing ones.

        The findings are the ones that drive regeneration (`weaknesses`), without their label."""
        out: list[dict[str, str]] = []
        for name in self.failing_dimensions():
            findings = list(self.first) if name in _INTEGRITY_DRIVEN else []
            findings += [w for w in self.by_dimension.get(name, []) if w not in findings]
            findings = [_unlabelled(f) for f in findings][:MAX_REASONS_PER_DIMENSION]
            if not findings:
                limit = self.thresholds.get(name, self.thresholds.get("overall", 0.0))
                findings = [f"scored {self.dimensions[name]:.2f}, below {limit:.2f}"]
            out.extend({"dimension": name, "finding": f} for f in findings)
        return out

    def confident_failure(self) -> bool:
        """Failed beyond doubt: a reviewer (judge) confirmed it, or a threshold is missed by at least
        CONFIDENT_MARGIN. A near miss is returned as it is rather than paid for again."""
        if self.passed:
            return False
        if self.judge is not None:
            return True
        values = {"overall": self.overall, **self.dimensions}
        return any(values.get(k, 1.0) <= limit - CONFIDENT_MARGIN for k, limit in self.thresholds.items())

    def failed_thresholds(self) -> list[str]:
        """Names of the thresholds this report misses ('overall', 'educational_value', 'factual')."""
        values = {"overall": self.overall, **self.dimensions}
        return [k for k, limit in self.thresholds.items() if values.get(k, 0.0) < limit]


def _unlabelled(weakness: str) -> str:
    """'coverage: the title does not name...' -> 'the title does not name...'."""
    label, sep, rest = weakness.partition(": ")
    return rest if sep and label.replace("_", "").isalpha() and len(label) <= 20 else weakness
