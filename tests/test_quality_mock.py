"""mock_content.build: offline, deterministic, varied, schema-shaped, with the topic and every
objective really in the text, and written without any knowledge of the quality gate: the gate
scores it honestly, like any provider's output (its template text often fails)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from functions.generate import mock_content
from functions.generate.quality import assess

ROOT = Path(__file__).resolve().parent.parent
TYPES = tuple(mock_content.CONTENT_TYPES)
AUDIENCES = ("elementary", "middle_school", "high_school", "college", "adult_learning", "general")
TOPIC = "Photosynthesis in desert plants"
OBJECTIVES = ["Explain how cacti store water in their stems", "Compare CAM photosynthesis with ordinary photosynthesis"]


def _build(content_type, audience="general", topic=TOPIC, objectives=OBJECTIVES, attempt=1):
    return mock_content.build(content_type, topic=topic, audience=audience,
                              learning_objectives=list(objectives), language="en", attempt=attempt)


def test_covers_all_eight_types():
    from functions.generate import content_types

    assert set(TYPES) == set(content_types.CONTENT_TYPES) and len(TYPES) == 8


def test_the_mock_imports_nothing_of_the_quality_gate():
    tree = ast.parse((ROOT / "functions/generate/mock_content.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and "quality" in m for m in imported), imported
    script = ("import sys; from functions.generate import mock_content; "
              "mock_content.build('study_guide', topic='Cats', audience='general', learning_objectives=[], language='en'); "
              "print(sorted(m for m in sys.modules if m.startswith('functions.generate.quality')))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


_REDUNDANCY = ("say nearly the same thing", "only restates", "uses the term it defines")


@pytest.mark.parametrize("content_type", TYPES)
def test_mock_documents_are_scored_like_any_other(content_type):
    """No special case: the same report the gate gives any document, shape intact, factual unverified.

    The mock fills templates, so its key concepts, flashcards and FAQ answers say nearly the same thing
    as each other; structure reports that like it would for any document, and nothing else."""
    doc = _build(content_type)
    report = assess(content_type, doc, topic=TOPIC, audience="general", learning_objectives=OBJECTIVES)
    shape = [w for w in report.by_dimension["structure"] if not any(p in w for p in _REDUNDANCY)]
    assert shape == [], shape
    if content_type in ("study_guide", "faq_collection", "flashcards"):
        assert any("say nearly the same thing" in w for w in report.by_dimension["structure"])
    else:
        assert report.dimensions["structure"] == 1.0, report.weaknesses
    assert report.factual_verified is False and report.dimensions["factual"] <= 0.9
    assert report.passed == (not report.failed_thresholds())
    if not report.passed:
        assert report.weaknesses


def test_mock_text_in_the_wrong_language_fails():
    doc = mock_content.build("faq_collection", topic="El sistema solar", audience="general",
                             learning_objectives=[], language="es")
    report = assess("faq_collection", doc, topic="El sistema solar", audience="general", language="es")
    assert not report.passed
    assert any(w.startswith("language: the text is written in English") for w in report.weaknesses)


@pytest.mark.parametrize("content_type", TYPES)
def test_deterministic(content_type):
    assert _build(content_type) == _build(content_type)
    assert json.dumps(_build(content_type, "college")) == json.dumps(_build(content_type, "college"))


@pytest.mark.parametrize("content_type", ["master_content_outline", "podcast_script", "study_guide",
                                          "detailed_reading_material", "faq_collection", "flashcards"])
def test_varied_by_topic_and_attempt(content_type):
    first = _build(content_type)
    other_topic = _build(content_type, topic="Plate tectonics and earthquakes", objectives=[])
    second_attempt = _build(content_type, attempt=2)
    assert other_topic != first
    assert "Plate tectonics" in json.dumps(other_topic) and "Plate tectonics" not in json.dumps(first)
    assert second_attempt != first  # a regeneration is worded differently
    # ...but the wording, not the facts, changes: still the same topic.
    assert TOPIC.lower() in json.dumps(second_attempt).lower()


@pytest.mark.parametrize("content_type", TYPES)
def test_topic_and_each_objective_are_in_the_body(content_type):
    doc = _build(content_type)
    body = json.dumps({k: v for k, v in doc.items() if k not in ("title", "learning_objectives")}).lower()
    assert "photosynthesis" in body and "desert plants" in body
    for objective in OBJECTIVES:
        assert objective[1:].lower() in body or objective.lower().split(" ", 1)[1] in body


def test_defaults_objectives_when_none_are_given():
    doc = _build("study_guide", objectives=[])
    assert 3 <= len(doc["learning_objectives"]) <= 8
    assert all(TOPIC in o for o in doc["learning_objectives"])


def test_reading_material_cites_catalogue_searches_not_invented_books():
    doc = _build("detailed_reading_material")
    assert len(doc["references"]) >= 2
    assert all(r.split(": ", 1)[1].startswith("https://") for r in doc["references"])
    assert "Photosynthesis+in+desert+plants" in doc["references"][0]


def test_unknown_type_is_refused():
    with pytest.raises(ValueError):
        _build("poem")


@pytest.mark.parametrize("audience", ["elementary", "college"])
@pytest.mark.parametrize("content_type", TYPES)
def test_validates_against_the_published_models(content_type, audience):
    from functions.generate import content_types

    doc = _build(content_type, audience)
    assert content_types.validate(content_type, doc) is not None


def test_the_readme_example_is_a_hand_written_document_that_passes_the_gate_honestly():
    """README: flashcards on "The water cycle" for middle school. The mock serves a hand-written demo
    document for it; the gate (which never mentions the mock) passes it on its merits, while any
    other topic still gets template text that fails with its reasons shown."""
    demo = mock_content.build("flashcards", topic="The water cycle", audience="middle_school",
                              learning_objectives=[], language="en")
    report = assess("flashcards", demo, topic="The water cycle", audience="middle_school")
    assert report.passed and report.reasons() == []
    assert demo == mock_content.build("flashcards", topic="the water cycle.", audience="middle_school",
                                      learning_objectives=[], language="en", attempt=2)
    other = _build("flashcards", audience="middle_school", topic="Volcanoes", objectives=[])
    failed = assess("flashcards", other, topic="Volcanoes", audience="middle_school")
    assert not failed.passed and failed.reasons()
    # In Spanish the mock has no demo: English template text, failing as the wrong language.
    spanish = mock_content.build("flashcards", topic="The water cycle", audience="middle_school",
                                 learning_objectives=[], language="es")
    assert spanish != demo
    gate = ROOT / "functions/generate/quality"
    assert not any("mock" in p.read_text().lower() for p in gate.glob("*.py"))
