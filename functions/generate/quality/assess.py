"""The quality gate: score a generated document on six dimensions and decide whether it passes.

overall = min(weighted mean, weakest dimension + 0.25): one dimension failing
badly (off-topic, unreadable for the audience, the wrong shape) cannot be
averaged into a pass by the others. `passed` needs overall, educational_value
and factual each at or above their thresholds.
"""

from __future__ import annotations

from typing import Any

from functions.generate.quality import coverage, factual, pedagogy, readability, structure
from functions.generate.quality.report import THRESHOLD_KEYS, QualityReport, default_thresholds
from functions.generate.quality.text import analyse

WEIGHTS: dict[str, float] = {
    "structure": 0.15,
    "readability": 0.15,
    "coverage": 0.20,
    "educational_value": 0.20,
    "engagement": 0.10,
    "factual": 0.20,
}
WEAKEST_MARGIN = 0.25
MAX_WEAKNESSES = 12


def assess(
    content_type: str,
    content: dict[str, Any],
    *,
    topic: str,
    audience: str,
    learning_objectives: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
) -> QualityReport:
    """Score `content` (a document of `content_type`) for `audience` on `topic`."""
    limits = default_thresholds()
    if thresholds:
        unknown = set(thresholds) - set(THRESHOLD_KEYS)
        if unknown:
            raise ValueError(f"unknown quality thresholds: {', '.join(sorted(unknown))}")
        limits.update({k: float(v) for k, v in thresholds.items()})

    struct_value, struct_weak = structure.score(content_type, content)
    doc = analyse(content if isinstance(content, dict) else {})
    read_value, read_weak, _ = readability.score(doc, audience)
    cover_value, cover_weak = coverage.score(doc, topic, learning_objectives)
    edu_value, edu_weak = pedagogy.educational_value(doc, content_type)
    eng_value, eng_weak = pedagogy.engagement(doc, content_type)
    fact_value, fact_weak = factual.score(doc, content_type)

    dimensions = {
        "structure": struct_value,
        "readability": read_value,
        "coverage": cover_value,
        "educational_value": edu_value,
        "engagement": eng_value,
        "factual": fact_value,
    }
    dimensions = {k: round(max(0.0, min(1.0, v)), 4) for k, v in dimensions.items()}
    mean = sum(WEIGHTS[k] * v for k, v in dimensions.items())
    overall = round(min(mean, min(dimensions.values()) + WEAKEST_MARGIN), 4)
    values = {"overall": overall, **dimensions}
    passed = all(values[k] >= limit for k, limit in limits.items())

    # Weakest dimensions first, so a truncated list still names what matters most.
    by_dimension = {
        "structure": struct_weak, "readability": read_weak, "coverage": cover_weak,
        "educational_value": edu_weak, "engagement": eng_weak, "factual": fact_weak,
    }
    weaknesses: list[str] = []
    for name in sorted(dimensions, key=lambda k: dimensions[k]):
        if dimensions[name] < 1.0 or name == "factual":
            weaknesses.extend(by_dimension[name][:6])
    return QualityReport(
        overall=overall,
        passed=passed,
        dimensions=dimensions,
        thresholds=dict(limits),
        weaknesses=weaknesses[:MAX_WEAKNESSES],
    )
