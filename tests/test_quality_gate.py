"""The gate's contract: report shape, thresholds from settings, enforcement, robustness,
and the specific signals of coverage, factual risk and structure."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from functions.generate.quality import QualityReport, assess
from functions.generate.quality.assess import WEIGHTS

DOCS = Path(__file__).parent / "quality_docs"
DIMENSIONS = {"structure", "readability", "coverage", "educational_value", "engagement", "factual"}


def _spec(name: str) -> dict:
    return json.loads((DOCS / f"{name}.json").read_text())


def _good(name: str) -> tuple[dict, dict]:
    spec = _spec(name)
    return spec, copy.deepcopy(spec["good"])


def _run(name: str, content: dict, spec: dict, **kwargs) -> QualityReport:
    return assess(name, content, topic=spec["topic"], audience=spec["audience"],
                  learning_objectives=kwargs.pop("learning_objectives", spec["learning_objectives"] or None), **kwargs)


def test_report_shape_and_api_dict():
    spec, doc = _good("podcast_script")
    report = _run("podcast_script", doc, spec)
    assert set(report.dimensions) == DIMENSIONS
    assert all(0.0 <= v <= 1.0 for v in report.dimensions.values())
    assert set(report.as_dict()) == {"overall", "passed", "dimensions", "thresholds", "factual_verified",
                                     "not_assessed", "judge", "reasons"}
    # No judge: the factual score is the unverified screen, never a perfect score by default.
    assert report.as_dict()["factual_verified"] is False and report.as_dict()["judge"] is None
    assert report.dimensions["factual"] <= 0.9 and report.as_dict()["not_assessed"] == []
    assert report.as_dict()["thresholds"] == {"overall": 0.70, "educational_value": 0.75, "factual": 0.85}
    json.dumps(report.as_dict())  # serialisable as is
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    with pytest.raises(Exception):
        report.overall = 0.1  # frozen


def test_thresholds_come_from_settings(env):
    spec, doc = _good("one_pager_summary")
    report = _run("one_pager_summary", doc, spec)
    assert report.passed
    env(QUALITY_THRESHOLD_OVERALL="0.99", QUALITY_THRESHOLD_EDUCATIONAL="0.5", QUALITY_THRESHOLD_FACTUAL="0.5")
    strict = _run("one_pager_summary", doc, spec)
    assert strict.thresholds == {"overall": 0.99, "educational_value": 0.5, "factual": 0.5}
    assert strict.overall == report.overall
    assert not strict.passed
    assert strict.failed_thresholds() == ["overall"]


@pytest.mark.parametrize("key", ["overall", "educational_value", "factual"])
def test_each_threshold_is_enforced(key):
    spec, doc = _good("podcast_script")
    doc["main_content"] += " Most vaccines are given in childhood, and they usually protect for many years."
    report = _run("podcast_script", doc, spec)
    assert report.passed
    value = report.overall if key == "overall" else report.dimensions[key]
    failing = _run("podcast_script", doc, spec, thresholds={key: value + 0.001})
    assert not failing.passed and failing.failed_thresholds() == [key]
    at_value = _run("podcast_script", doc, spec, thresholds={key: value})
    assert at_value.passed  # at the threshold passes


def test_unknown_threshold_is_refused():
    spec, doc = _good("faq_collection")
    with pytest.raises(ValueError):
        _run("faq_collection", doc, spec, thresholds={"structure": 0.5})


@pytest.mark.parametrize(
    "content",
    [{}, {"title": 5}, {"items": "not a list"}, {"items": [None, 3, "x", {"question": ["nested"]}]},
     {"title": "", "items": [{"question": "", "answer": None, "category": {}}] * 30}],
)
def test_malformed_documents_score_low_and_never_raise(content):
    report = assess("faq_collection", content, topic="Photosynthesis", audience="general")
    assert not report.passed
    assert report.dimensions["structure"] < 0.5
    assert report.weaknesses


def test_not_a_dict_and_unknown_type_fail_closed():
    assert not assess("faq_collection", ["a list"], topic="Photosynthesis", audience="general").passed  # type: ignore[arg-type]
    report = assess("poem", {"title": "x"}, topic="Photosynthesis", audience="general")
    assert report.dimensions["structure"] == 0.0 and not report.passed


def test_objects_where_strings_are_expected_are_read():
    spec, doc = _good("study_guide")
    doc["key_concepts"] = [{"term": c.split(":")[0], "definition": c.split(":", 1)[1]} for c in doc["key_concepts"]]
    doc["assessment_questions"] = [{"question": q, "answer": "See the guide."} for q in doc["assessment_questions"]]
    report = _run("study_guide", doc, spec)
    assert report.passed and report.dimensions["structure"] == 1.0


# --- coverage ------------------------------------------------------------------------------------


def test_untaught_objective_is_named():
    spec, doc = _good("master_content_outline")
    objectives = spec["learning_objectives"] + ["Calculate the salinity of estuaries using titration"]
    report = _run("master_content_outline", doc, spec, learning_objectives=objectives)
    base = _run("master_content_outline", doc, spec)
    assert report.dimensions["coverage"] < base.dimensions["coverage"]
    assert any("Calculate the salinity of estuaries" in w and "'salinity'" in w for w in report.weaknesses)


def test_listing_objectives_does_not_count_as_teaching_them():
    spec, doc = _good("master_content_outline")
    objective = "Explain how glaciers carve fjords"
    doc["learning_objectives"] = doc["learning_objectives"] + [objective]
    report = _run("master_content_outline", doc, spec, learning_objectives=[objective])
    assert report.dimensions["coverage"] < 0.8
    assert any("glaciers" in w for w in report.weaknesses)


def test_coverage_matches_word_forms_not_exact_strings():
    spec, doc = _good("faq_collection")
    # "photosynthetic", "leaves"/"leaf", "making sugars": different forms of the objective's words.
    report = _run("faq_collection", doc, spec, learning_objectives=["Describe photosynthetic pigments in a leaf"])
    assert report.dimensions["coverage"] >= 0.9


# --- factual -----------------------------------------------------------------------------------


def _with_sentence(name: str, field: str, sentence: str) -> tuple[QualityReport, QualityReport]:
    spec, doc = _good(name)
    base = _run(name, doc, spec)
    doc[field] = doc[field] + " " + sentence
    return base, _run(name, doc, spec)


@pytest.mark.parametrize(
    "myth",
    [
        "Remember that we only use 10% of our brains when we learn.",
        "The Great Wall of China is visible from space with the naked eye.",
        "Summer is warm because the Earth is closer to the Sun in summer.",
        "Antibiotics kill viruses, so they cure the flu.",
        "Visual learners learn best when lessons match their learning style.",
    ],
)
def test_stated_myth_lowers_factual_below_threshold(myth):
    base, report = _with_sentence("podcast_script", "main_content", myth)
    assert base.passed
    assert report.dimensions["factual"] < report.thresholds["factual"]
    assert not report.passed
    assert any(w.startswith("factual: states a known misconception") for w in report.weaknesses)


def test_debunked_myth_is_not_penalised():
    base, report = _with_sentence(
        "podcast_script", "main_content",
        "It is a myth that we only use 10% of our brains; brain scans show activity everywhere.")
    assert report.dimensions["factual"] == base.dimensions["factual"] >= 0.85


def test_absolutes_lower_factual_and_hedging_is_fine():
    base, absolute = _with_sentence(
        "one_pager_summary", "main_content",
        "Compounding always works and is guaranteed. You will definitely get rich, it is impossible to lose, "
        "and markets never fall. Everyone knows this is a proven fact.")
    assert absolute.dimensions["factual"] < base.dimensions["factual"] - 0.2
    assert any("overconfident absolutes" in w for w in absolute.weaknesses)
    _, hedged = _with_sentence(
        "one_pager_summary", "main_content",
        "Compounding usually works in your favour over long periods, although returns may vary from year to year.")
    assert hedged.dimensions["factual"] >= base.dimensions["factual"] >= 0.85


def test_unsourced_statistics_and_vague_authority():
    _, report = _with_sentence(
        "one_pager_summary", "main_content",
        "Studies show that 73 percent of savers start too late. Around 41 percent never check their rate, "
        "and 12 percent pay fees above 2 percent.")
    assert report.dimensions["factual"] < 0.9
    assert any("unnamed authority" in w for w in report.weaknesses)
    assert any("statistics" in w for w in report.weaknesses)


def test_reading_material_needs_real_references():
    spec, doc = _good("detailed_reading_material")
    doc["references"] = ["https://example.com/source", "[insert citation here]"]
    report = _run("detailed_reading_material", doc, spec)
    assert report.dimensions["factual"] < 0.85
    assert any("placeholders" in w for w in report.weaknesses)


# --- structure ---------------------------------------------------------------------------------


def test_unfilled_placeholders_halve_structure():
    spec, doc = _good("faq_collection")
    doc["items"][0]["answer"] = "Photosynthesis is {topic}, explained for {audience} learners with care."
    report = _run("faq_collection", doc, spec)
    assert report.dimensions["structure"] <= 0.5
    assert any("placeholders" in w for w in report.weaknesses)


def test_questions_must_end_with_question_mark_and_numbering_starts_at_one():
    spec, doc = _good("reading_guide_questions")
    doc["questions"] = [q.rstrip("?") + "." for q in doc["questions"]]
    report = _run("reading_guide_questions", doc, spec)
    assert report.dimensions["structure"] < 0.8
    assert any('does not end with "?"' in w for w in report.weaknesses)

    spec, doc = _good("master_content_outline")
    for section in doc["sections"]:
        section["section_number"] -= 1  # 0, 1, 2...
    report = _run("master_content_outline", doc, spec)
    assert report.dimensions["structure"] < 1.0
    assert any("numbered 1 to 5" in w for w in report.weaknesses)


def test_reference_lengths_are_enforced():
    spec, doc = _good("podcast_script")
    doc["introduction"] = "Hi there, welcome."
    doc["conclusion"] = "Bye. " * 300
    report = _run("podcast_script", doc, spec)
    assert any("introduction is too short" in w for w in report.weaknesses)
    assert any("conclusion is too long" in w for w in report.weaknesses)


def test_podcast_duration_must_fit_the_script():
    spec, doc = _good("podcast_script")
    doc["estimated_duration_minutes"] = 60
    report = _run("podcast_script", doc, spec)
    assert report.dimensions["structure"] < 1.0
    assert any("estimated_duration_minutes 60" in w for w in report.weaknesses)


def test_one_failed_dimension_caps_overall():
    spec, doc = _good("one_pager_summary")
    report = _run("one_pager_summary", doc, spec, learning_objectives=None)
    off_topic = assess("one_pager_summary", doc, topic="Medieval castle architecture", audience="adult_learning")
    assert report.passed
    assert off_topic.dimensions["coverage"] < 0.3
    assert off_topic.overall <= off_topic.dimensions["coverage"] + 0.25
    assert not off_topic.passed


def test_every_dimension_can_fail():
    """No signal is unable to fail (a past mistake): across the poor documents and an empty one,
    each dimension reaches a low score."""
    lowest = {d: 1.0 for d in DIMENSIONS}
    for path in DOCS.glob("*.json"):
        spec = json.loads(path.read_text())
        for case in spec["poor"]:
            report = _run(path.stem, case["content"], spec)
            lowest = {d: min(v, report.dimensions[d]) for d, v in lowest.items()}
    empty = assess("study_guide", {"title": "Fractions"}, topic="Fractions", audience="elementary")
    lowest = {d: min(v, empty.dimensions[d]) for d, v in lowest.items()}
    assert all(v <= 0.25 for v in lowest.values()), lowest
    assert empty.dimensions["readability"] == 0.0 and empty.dimensions["educational_value"] < 0.2


def test_a_fluent_falsehood_is_never_perfectly_factual_offline():
    """Offline nothing is verified: a wrong claim with no red flag keeps the neutral prior and says so."""
    base, report = _with_sentence("podcast_script", "main_content",
                                  "World War II ended in 1066 when Napoleon landed on Mars.")
    assert report.dimensions["factual"] == base.dimensions["factual"] <= 0.9
    assert report.factual_verified is False and report.as_dict()["factual_verified"] is False


def test_vaccines_cause_autism_fails_as_a_stated_claim_and_passes_debunked():
    _, stated = _with_sentence("podcast_script", "main_content", "Studies are clear that vaccines cause autism.")
    assert not stated.passed and stated.dimensions["factual"] < stated.thresholds["factual"]
    assert any("vaccines cause autism" in w for w in stated.weaknesses)
    _, debunked = _with_sentence("podcast_script", "main_content",
                                 "It is a myth that vaccines cause autism; large studies found no link.")
    assert debunked.passed


def test_readability_is_not_assessed_without_a_formula_for_the_language():
    doc = {"title": "Domande sulla lettura: I promessi sposi",
           "questions": ["Perché Renzo e Lucia non possono sposarsi all'inizio del romanzo?",
                         "Come descrive l'autore il carattere di don Abbondio?",
                         "Quali scelte della monaca di Monza mostrano il peso della famiglia?",
                         "Perché la peste di Milano cambia il destino dei personaggi?",
                         "Che cosa pensi del perdono finale dell'Innominato?"]}
    report = assess("reading_guide_questions", doc, topic="I promessi sposi di Alessandro Manzoni",
                    audience="high_school", language="it")
    assert report.not_assessed == ["readability"] and "readability" not in report.dimensions
    assert report.as_dict()["not_assessed"] == ["readability"]


def test_an_objectives_grammar_and_verb_are_not_what_the_body_must_mention():
    # German puts the verb last, Spanish objectives start with an infinitive and use 'cómo'/'bajo':
    # only the subject words must be taught, and a missing subject word is still named.
    from functions.generate.quality import coverage, pedagogy
    from functions.generate.quality.text import analyse

    body = {"title": "Industrialisierung", "overview": "Die Folgen für die Arbeiter waren lange Arbeitstage.",
            "learning_objectives": ["Folgen für Arbeiter beschreiben", "Describir cómo cambió Hispania bajo Roma",
                                    "Explain the causes"],
            "sections": []}
    doc = analyse(body)
    values, weaknesses = coverage._objective_scores(["Folgen für Arbeiter beschreiben"], doc)
    assert values == [1.0] and weaknesses == []
    values, weaknesses = coverage._objective_scores(["Describir cómo cambió Hispania bajo Roma"], doc)
    assert values[0] < 1.0 and "'Hispania'" in weaknesses[0] and "'cómo'" not in weaknesses[0]
    assert "'Describir'" not in weaknesses[0]
    value, _ = pedagogy._objectives(doc)
    assert value == 1.0  # every objective has its measurable verb, first or (German) last
    doc = analyse({**body, "learning_objectives": ["Die Folgen", "La historia", "The causes"]})
    assert pedagogy._objectives(doc)[0] < 1.0
