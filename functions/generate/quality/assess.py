"""The quality gate: score a generated document on six dimensions and decide whether it passes.

First the text's integrity (`coherence`: real prose, in the requested language, not repeating
itself, no template left) multiplies coverage, educational value and engagement, so markers in
nonsense count for nothing. overall = min(weighted mean, weakest gate dimension + 0.25): one
dimension failing badly (off-topic, unreadable for the audience, the wrong shape) cannot be
averaged into a pass by the others; engagement is style and only weighs in the mean. A dimension
that cannot be assessed (readability in a language without a formula) is left out of both and
listed in `not_assessed`. `passed` needs overall, educational_value and factual each at or above
their thresholds. Style (the teaching moves, engagement, the grade within its band) only moves a
document within the passing range: what fails one is a confident defect that names itself. Without a judge, factual is an unverified screen (`factual_verified` false).
"""

from __future__ import annotations

from typing import Any

from functions.generate.quality import coherence, coverage, discourse, factual, pedagogy, readability, structure
from functions.generate.quality.language import FUNCTION_WORDS
from functions.generate.quality.language import base as language_base
from functions.generate.quality.report import THRESHOLD_KEYS, QualityReport, default_thresholds
from functions.generate.quality.text import Document, analyse

WEIGHTS: dict[str, float] = {
    "structure": 0.15,
    "readability": 0.15,
    "coverage": 0.20,
    "educational_value": 0.20,
    "engagement": 0.10,
    "factual": 0.20,
}
WEAKEST_MARGIN = 0.25
# coverage 0.3 -> no educational value for this request, 0.55 -> full: only a document clearly about
# something else loses its teaching value (it was 0.5 -> 0.8 and failed sound documents that name
# their topic in other words).
RELEVANCE_FLOOR, RELEVANCE_SPAN = 0.3, 0.25
CAPPING = ("structure", "readability", "coverage", "educational_value", "factual")
MAX_WEAKNESSES = 12
# Where the soft (style) scores start: a document with none of the teaching moves the pedagogy score
# looks for still gets this much. 0.7 keeps educational value below its 0.75 threshold only together
# with a defect or an integrity or relevance problem; readability and engagement keep their order
# within the passing range (issue 20, third round: 9 of the 12 false rejects on heldout2 were style).
SOFT_FLOOR = {"educational_value": 0.7, "engagement": 0.5, "readability": 0.5}
# The dimensions each kind of discourse defect makes untrue.
DEFECT_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "refusal": ("coverage", "educational_value", "engagement"),
    "truncated": ("structure", "educational_value"),
    "mismatched": ("educational_value",),
    "order": ("educational_value",),
    "generic": ("educational_value",),
    "shallow": ("educational_value",),
    "off_topic": ("coverage", "educational_value"),
    "audience": ("readability", "educational_value"),
}


def assess(
    content_type: str,
    content: dict[str, Any],
    *,
    topic: str,
    audience: str,
    learning_objectives: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
    language: str = "en",
) -> QualityReport:
    """Score `content` (a document of `content_type`, written in `language`) for `audience` on `topic`."""
    limits = default_thresholds()
    if thresholds:
        unknown = set(thresholds) - set(THRESHOLD_KEYS)
        if unknown:
            raise ValueError(f"unknown quality thresholds: {', '.join(sorted(unknown))}")
        limits.update({k: float(v) for k, v in thresholds.items()})

    struct_value, struct_weak = structure.score(content_type, content)
    doc = analyse(content if isinstance(content, dict) else {})
    doc.language = language_base(language)
    integrity = coherence.score(doc, language, topic)
    read_value, read_weak, grade = readability.score(doc, audience, language)
    cover = coverage.score(doc, topic, learning_objectives, content_type)
    cover_value, cover_weak = cover.value, cover.weaknesses
    edu_value, edu_weak = pedagogy.educational_value(doc, content_type)
    eng_value, eng_weak = pedagogy.engagement(doc, content_type)
    fact_value, fact_weak = factual.score(doc, content_type, language)
    g = integrity.value
    # Teaching style is not a defect: a podcast, a reading or an FAQ that explains without tasks and
    # questions still teaches. The pedagogy and readability scores only move a document within the
    # passing range; what fails it is a confident defect (integrity, relevance, the discourse checks).
    edu_value = _softened("educational_value", edu_value)
    eng_value = _softened("engagement", eng_value)
    if grade is not None and read_value is not None:  # nothing to read stays unreadable (a grade implies a value)
        read_value = _softened("readability", read_value)
    # Teaching something other than what was asked is not educational for this request.
    relevance = max(0.0, min(1.0, (cover_value - RELEVANCE_FLOOR) / RELEVANCE_SPAN))

    dimensions: dict[str, float | None] = {
        "structure": struct_value,
        "readability": read_value,
        "coverage": cover_value * g,
        "educational_value": edu_value * g * relevance,
        "engagement": eng_value * g,
        "factual": fact_value,
    }
    by_dimension = {
        "structure": struct_weak, "readability": read_weak, "coverage": cover_weak,
        "educational_value": edu_weak, "engagement": eng_weak, "factual": fact_weak,
    }
    _apply_defects(_defects(doc, content_type, topic, audience, grade, learning_objectives, cover),
                   dimensions, by_dimension)
    not_assessed = sorted(k for k, v in dimensions.items() if v is None)
    return decide({k: v for k, v in dimensions.items() if v is not None}, limits, integrity.weaknesses,
                  by_dimension, not_assessed=not_assessed)


def _defects(doc: Document, content_type: str, topic: str, audience: str, grade: float | None,
             learning_objectives: list[str] | None, cover: coverage.Coverage) -> list[discourse.Defect]:
    """The confident defects: the discourse checks, the audience, a text about something else."""
    defects = discourse.review(doc, content_type, topic, FUNCTION_WORDS.get(doc.language, frozenset()))
    defects += discourse.audience_of(doc, grade, readability.band_for(audience), audience,
                                     request=" ".join([topic, *(learning_objectives or [])]), content_type=content_type)
    if finding := coverage.elsewhere(doc, cover, topic):
        defects.append(discourse.Defect("off_topic", finding, 0.5))
    return defects


def _softened(name: str, value: float) -> float:
    """A style score lifted onto its floor: SOFT_FLOOR[name] for none of the moves, 1.0 for all of them."""
    return SOFT_FLOOR[name] + (1 - SOFT_FLOOR[name]) * value


def _apply_defects(defects: list[discourse.Defect], dimensions: dict[str, float | None],
                   by_dimension: dict[str, list[str]]) -> None:
    """Refusals, truncation, mismatched pairs, shuffled order, filler: each lowers the dimensions it
    makes untrue and leads their findings."""
    for defect in defects:
        for name in DEFECT_DIMENSIONS[defect.kind]:
            value = dimensions[name]
            if value is not None:
                dimensions[name] = value * defect.factor
            by_dimension[name] = [f"{name}: {defect.finding}"] + by_dimension[name]


def decide(dimensions: dict[str, float], limits: dict[str, float], first: list[str],
           by_dimension: dict[str, list[str]], *, not_assessed: list[str], factual_verified: bool = False,
           judge: str | None = None) -> QualityReport:
    """overall, passed and the ordered weaknesses from the dimension values (also used after a judge's review)."""
    dimensions = {k: round(max(0.0, min(1.0, v)), 4) for k, v in dimensions.items()}
    weights = {k: WEIGHTS[k] for k in dimensions}
    mean = sum(weights[k] * v for k, v in dimensions.items()) / sum(weights.values())
    weakest = min(v for k, v in dimensions.items() if k in CAPPING)
    overall = round(min(mean, weakest + WEAKEST_MARGIN), 4)
    values = {"overall": overall, **dimensions}
    passed = all(values[k] >= limit for k, limit in limits.items())

    # Integrity problems first, then the weakest dimensions, so a truncated list still names what matters most.
    weaknesses: list[str] = list(first)
    for name in sorted(dimensions, key=lambda k: dimensions[k]):
        if dimensions[name] < 1.0 or name == "factual":
            weaknesses.extend(w for w in by_dimension.get(name, [])[:6] if w not in weaknesses)
    return QualityReport(
        overall=overall,
        passed=passed,
        dimensions=dimensions,
        thresholds=dict(limits),
        weaknesses=weaknesses[:MAX_WEAKNESSES],
        factual_verified=factual_verified,
        not_assessed=list(not_assessed),
        judge=judge,
        by_dimension={k: list(v) for k, v in by_dimension.items()},
        first=list(first),
    )
