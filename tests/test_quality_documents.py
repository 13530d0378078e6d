"""Hand-written good and poor documents for every content type (tests/quality_docs/*.json).

Good documents pass the gate; each poor document fails it, its intended flaw is
its lowest dimension, and the weaknesses name that flaw specifically.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.generate.quality import assess

DOCS = Path(__file__).parent / "quality_docs"
TYPES = ("master_content_outline", "podcast_script", "study_guide", "one_pager_summary",
         "detailed_reading_material", "faq_collection", "flashcards", "reading_guide_questions")


def _spec(content_type: str) -> dict:
    return json.loads((DOCS / f"{content_type}.json").read_text())


def _assess(content_type: str, spec: dict, content: dict):
    return assess(content_type, content, topic=spec["topic"], audience=spec["audience"],
                  learning_objectives=spec["learning_objectives"] or None)


def _poor_cases():
    for content_type in TYPES:
        for case in _spec(content_type)["poor"]:
            yield pytest.param(content_type, case, id=f"{content_type}-{case['name']}")


def test_every_type_has_a_good_and_a_poor_document():
    assert sorted(p.stem for p in DOCS.glob("*.json")) == sorted(TYPES)
    lows = set()
    for content_type in TYPES:
        spec = _spec(content_type)
        assert spec["good"] and spec["poor"]
        lows.update(case["low"] for case in spec["poor"])
    # The poor set exercises every gate-relevant failure, not one kind eight times.
    assert {"structure", "readability", "coverage", "educational_value", "factual"} <= lows


@pytest.mark.parametrize("content_type", TYPES)
def test_good_document_passes(content_type):
    spec = _spec(content_type)
    report = _assess(content_type, spec, spec["good"])
    assert report.passed, (report.dimensions, report.weaknesses)
    assert report.overall >= 0.8
    assert report.dimensions["structure"] == 1.0
    assert report.dimensions["factual"] >= 0.85  # unverified: a neutral prior plus evidence, at most 0.9
    assert report.dimensions["coverage"] >= 0.9


@pytest.mark.parametrize(("content_type", "case"), _poor_cases())
def test_poor_document_fails_for_the_right_reason(content_type, case):
    spec = _spec(content_type)
    good = _assess(content_type, spec, spec["good"])
    report = _assess(content_type, spec, case["content"])
    low = case["low"]
    assert not report.passed
    assert report.overall < report.thresholds["overall"] or report.failed_thresholds()
    # Engagement is style (it never caps overall), so the flaw is the lowest of the other dimensions.
    assert report.dimensions[low] == min(v for k, v in report.dimensions.items() if k != "engagement"), \
        report.dimensions
    assert report.dimensions[low] <= good.dimensions[low] - 0.3
    text = "\n".join(report.weaknesses)
    assert any(w.startswith(f"{low}:") for w in report.weaknesses)
    for fragment in case["weakness_contains"]:
        assert fragment in text, (fragment, report.weaknesses)


def test_weaknesses_are_ordered_by_the_weakest_dimension():
    spec = _spec("study_guide")
    report = _assess("study_guide", spec, spec["poor"][0]["content"])
    assert report.weaknesses[0].startswith("readability:") and "grade level" in report.weaknesses[0]
    assert "above the elementary band (3-6)" in report.weaknesses[0]
