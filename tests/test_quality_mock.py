"""mock_content.build: offline, deterministic, varied, schema-shaped, and passing the gate for
every type and audience, with the topic and every objective really in the text."""

from __future__ import annotations

import json

import pytest

from functions.generate import mock_content
from functions.generate.quality import assess
from functions.generate.quality.readability import band_for, grades
from functions.generate.quality.structure import SPECS
from functions.generate.quality.text import analyse

TYPES = tuple(SPECS)
AUDIENCES = ("elementary", "middle_school", "high_school", "college", "adult_learning", "general")
TOPIC = "Photosynthesis in desert plants"
OBJECTIVES = ["Explain how cacti store water in their stems", "Compare CAM photosynthesis with ordinary photosynthesis"]


def _build(content_type, audience="general", topic=TOPIC, objectives=OBJECTIVES, attempt=1):
    return mock_content.build(content_type, topic=topic, audience=audience,
                              learning_objectives=list(objectives), language="en", attempt=attempt)


def test_covers_all_eight_types():
    assert set(mock_content.CONTENT_TYPES) == set(TYPES) and len(TYPES) == 8


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("content_type", TYPES)
def test_every_type_and_audience_passes_the_gate(content_type, audience):
    doc = _build(content_type, audience)
    report = assess(content_type, doc, topic=TOPIC, audience=audience, learning_objectives=OBJECTIVES)
    assert report.passed, (report.dimensions, report.weaknesses)
    assert report.dimensions["structure"] == 1.0, report.weaknesses
    assert report.dimensions["coverage"] >= 0.95, report.weaknesses
    # Pitched to the audience: the grade level is inside the band (not merely tolerated).
    analysed = analyse(doc)
    low, high = band_for(audience)
    grade = grades(analysed.word_list, len(analysed.sentences)).mean
    assert low - 0.01 <= grade <= high + 0.01, grade


@pytest.mark.parametrize(
    ("topic", "objectives"),
    [
        ("Cats", []),
        ("Quantum entanglement and the Einstein-Podolsky-Rosen paradox in modern experimental physics",
         ["Describe the EPR thought experiment", "Evaluate loophole-free Bell tests"]),
        ((("The transatlantic slave trade and its economic, social and cultural consequences for Africa, "
           "Europe and the Americas ") * 4)[:500],
        [f"Analyse consequence {i} of the trade for coastal economies" for i in range(10)]),
    ],
    ids=["one-word", "technical", "500-char-topic-10-objectives"],
)
@pytest.mark.parametrize("audience", ["elementary", "college"])
@pytest.mark.parametrize("content_type", TYPES)
def test_awkward_requests_still_pass(content_type, audience, topic, objectives):
    doc = _build(content_type, audience, topic, objectives)
    report = assess(content_type, doc, topic=topic, audience=audience, learning_objectives=objectives or None)
    assert report.passed, (report.dimensions, report.weaknesses)
    assert report.dimensions["structure"] == 1.0, report.weaknesses


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
