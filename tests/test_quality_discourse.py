"""The discourse checks (quality/discourse.py) and what issue 20 asked of the gate: each with inputs
that must fail and inputs that must pass."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from functions.generate.quality import assess, discourse
from functions.generate.quality.report import QualityReport
from functions.generate.quality.text import analyse
from tests.quality_corpus.labelled import corpus

ENTRIES = {e["id"]: e for e in corpus.load()}
DOCS = Path(__file__).parent / "quality_docs"


def _assess(entry: dict, content: dict | None = None, **request):
    e = {**entry, **request}
    return assess(e["content_type"], content if content is not None else e["content"], topic=e["topic"],
                  audience=e["audience"], learning_objectives=e["learning_objectives"] or None, language=e["language"])


def _kinds(report) -> str:
    return "\n".join(r["finding"] for r in report.reasons())


# --- refusals in any wording ------------------------------------------------------------------------

@pytest.mark.parametrize("refusal", [
    "I'm sorry, but I can't help with that request.",
    "Unfortunately, I am unable to provide information on this subject.",
    "As an AI language model, I cannot create educational material about this.",
    "I must decline to write this content.",
    "Lo siento, pero no puedo ayudar con esta solicitud.",
    "Es tut mir leid, aber dabei kann ich nicht helfen.",
    "Je suis désolé, je ne peux pas répondre à cette demande.",
])
def test_a_refusal_in_any_wording_fails_on_its_own_grounds(refusal):
    entry = ENTRIES["faq-compost"]
    doc = copy.deepcopy(entry["content"])
    for item in doc["items"][:3]:
        item["answer"] = refusal
    report = _assess(entry, doc)
    assert not report.passed
    assert "declines or apologises" in _kinds(report)


def test_meta_text_to_the_requester_fails_and_sound_text_with_apologies_in_it_passes():
    meta = _assess(ENTRIES["rf-faq-meta-solar"])
    assert not meta.passed and "talks to the requester" in _kinds(meta)
    # Vocabulary that teaches an apology is not a refusal.
    entry = ENTRIES["fc-es-cocina"]
    doc = copy.deepcopy(entry["content"])
    doc["items"][0] = {"term": "Lo siento", "definition": "Frase para pedir perdón. Ejemplo: Lo siento, llego tarde.",
                       "difficulty": "easy"}
    assert discourse.refusal(analyse(doc)) == []


# --- truncation -------------------------------------------------------------------------------------

def test_text_that_stops_mid_sentence_fails_and_complete_text_passes():
    entry = ENTRIES["pod-es-eclipses"]
    assert _assess(entry).passed
    doc = copy.deepcopy(entry["content"])
    doc["conclusion"] = "En resumen: en un eclipse de Sol la Luna tapa el Sol y se ve desde una franja de"
    report = _assess(entry, doc)
    assert not report.passed and "stops mid-sentence" in _kinds(report)
    # A definition may end without a full stop; it may not end on a word that needs a continuation.
    cards = {"items": [{"term": "Mean", "definition": "The sum of the values divided by how many there are"},
                       {"term": "Median", "definition": "The middle value once the values are put in"}]}
    findings = discourse.truncation(analyse(cards))
    assert len(findings) == 1 and "item 2" in findings[0].finding


# --- pairing ----------------------------------------------------------------------------------------

def test_an_faq_whose_answers_sit_under_the_wrong_questions_fails():
    entry = ENTRIES["faq-compost"]
    assert _assess(entry).passed
    doc = copy.deepcopy(entry["content"])
    answers = [i["answer"] for i in doc["items"]]
    for item, answer in zip(doc["items"], answers[1:] + answers[:1]):
        item["answer"] = answer
    report = _assess(entry, doc)
    assert not report.passed and "do not belong to their items" in _kinds(report)


def test_flashcards_whose_definitions_name_their_term_fail_when_swapped():
    entry = ENTRIES["fc-es-cocina"]
    assert _assess(entry).passed
    shuffled = ENTRIES["fc-es-cocina~mismatched"]
    assert not _assess(shuffled).passed


def test_the_assignment_is_the_optimal_one():
    # The gate's own Hungarian algorithm against scipy's (too heavy to load in generate).
    import random

    from scipy.optimize import linear_sum_assignment

    rng = random.Random(20)
    for _ in range(200):
        n = rng.randint(1, 25)
        sim = [[rng.random() * rng.choice([0, 1, 3]) for _ in range(n)] for _ in range(n)]
        rows, cols = linear_sum_assignment(sim, maximize=True)
        ours = sum(sim[i][j] for i, j in enumerate(discourse.assignment(sim)))
        assert ours == pytest.approx(sum(sim[i][j] for i, j in zip(rows, cols)))


@pytest.mark.parametrize("source", ["sg-present-perfect", "study_guide:pythagorean theorem",
                                    "master_content_outline:quality_docs good", "faq-de-mietvertrag"])
def test_explanations_moved_to_other_items_fail_and_the_originals_pass(source):
    # A key concept's explanation rarely repeats its term: read with the guide's sentences that use the
    # term, it still belongs to it more than to the others.
    assert discourse.pairing(analyse(ENTRIES[source]["content"]), ENTRIES[source]["content_type"]) == []
    moved = _assess(ENTRIES[f"{source}~mismatched"])
    assert not moved.passed and "do not belong" in _kinds(moved)


# --- order ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["podcast_script:quality_docs good", "podcast_script:roman aqueducts",
                                    "master_content_outline:quality_docs good", "study_guide:cell division"])
def test_a_shuffled_document_scores_at_least_015_below_its_original(source):
    original, shuffled = _assess(ENTRIES[source]), _assess(ENTRIES[f"{source}~shuffled"])
    assert original.passed and not shuffled.passed
    assert shuffled.overall <= original.overall - 0.15
    assert "out of order" in _kinds(shuffled)


@pytest.mark.parametrize("source", ["detailed_reading_material:how vaccines are tested", "podcast_script:sleep and memory",
                                    "pod-honeybees"])
def test_one_weak_order_signal_never_fails_a_sound_document(source):
    # "Review by regulators" as a middle section, a conclusion that opens with "To sum up:", a
    # passage that opens with "It starts with": each alone once failed these sound documents.
    assert discourse.order(analyse(ENTRIES[source]["content"])) == []
    assert "out of order" not in _kinds(_assess(ENTRIES[source]))


def test_section_titles_that_only_close_or_open_a_document():
    assert discourse._CLOSING_TITLE.search("Review and project")
    assert discourse._CLOSING_TITLE.search("Lab and review")
    assert discourse._CLOSING_TITLE.search("Final project: a budget of your own")
    assert discourse._CLOSING_TITLE.search("Bilanz")
    assert not discourse._CLOSING_TITLE.search("Review by regulators")
    assert not discourse._CLOSING_TITLE.search("Project management basics")
    assert discourse._OPENING_TITLE.match("Introduction to loops")
    assert not discourse._OPENING_TITLE.match("Why the plates move")


def test_an_outline_that_starts_with_its_review_is_out_of_order():
    entry = ENTRIES["mo-intro-python"]
    doc = copy.deepcopy(entry["content"])
    doc["sections"] = [doc["sections"][-1]] + doc["sections"][:-1]
    for n, section in enumerate(doc["sections"], 1):
        section["section_number"] = n
    assert discourse.order(analyse(doc))
    assert discourse.order(analyse(entry["content"])) == []


# --- specificity ------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["gf-rg-gatsby", "gf-fc-ecosystems", "gf-op-renaissance", "gf-pod-stoicism"])
def test_generic_filler_fails_however_fluent(source):
    report = _assess(ENTRIES[source])
    assert not report.passed and "generic" in _kinds(report)


@pytest.mark.parametrize("source", ["rg-hatchet", "fc-volcanoes", "op-inflation", "pod-honeybees"])
def test_specific_text_is_not_generic(source):
    entry = ENTRIES[source]
    assert discourse.specificity(analyse(entry["content"]), entry["topic"], frozenset()) == []


# --- neighbouring topics, audience ------------------------------------------------------------------

def test_a_neighbouring_topic_under_the_requested_title_fails():
    report = _assess(ENTRIES["nt-rg-odyssey"])
    assert not report.passed and "'Odyssey'" in _kinds(report)
    # A modifier the body does not repeat ("household") is not a different topic.
    recycling = ENTRIES["faq_collection:recycling"]
    assert discourse.topic_in_body(analyse(recycling["content"]), recycling["topic"]) == []


def test_plain_language_for_adult_learners_is_right_and_college_text_for_children_is_not():
    learners = _assess(ENTRIES["sg-present-perfect"])
    assert learners.passed, learners.reasons()
    children = _assess(ENTRIES["wa-fc-elem-plants"])
    assert not children.passed and "older readers" in _kinds(children)


# --- contrast is not contradiction; questions and quotations are not claims -------------------------

def test_a_deliberate_contrast_is_not_a_contradiction_but_a_reversal_is():
    contrast = {"title": "t", "overview": (
        "Compare two sentences. 'I lived in Madrid for five years' means I do not live there now. "
        "'I have lived in Madrid for five years' means I still live there now.")}
    assert "contradicts" not in json.dumps(assess("one_pager_summary", contrast, topic="x", audience="general")
                                           .by_dimension["factual"])
    reversal = {"title": "t", "overview": (
        "The Moon takes about 29.5 days to go through its full cycle of phases. Tides follow it. "
        "Eclipses are rare. The Moon takes about 14 days to go through its full cycle of phases.")}
    report = assess("one_pager_summary", reversal, topic="x", audience="general")
    assert any("contradicts itself" in w for w in report.by_dimension["factual"])


def test_absolutes_in_questions_and_quotations_are_not_overconfident_claims():
    asked = {"title": "t", "questions": [
        "Why does King say that 'wait' has almost always meant 'never'?",
        "Is it true that a loop always ends?", "Why does the narrator never name the town?",
        "Why does Scout always defend her father?"]}
    report = assess("reading_guide_questions", asked, topic="x", audience="college")
    assert not any("absolutes" in w for w in report.by_dimension["factual"])


# --- reasons and confident failure ------------------------------------------------------------------

def _report(overall: float, edu: float, factual: float, judge: str | None = None) -> QualityReport:
    dims = {"structure": 1.0, "readability": 1.0, "coverage": 1.0, "educational_value": edu, "engagement": 1.0,
            "factual": factual}
    limits = {"overall": 0.7, "educational_value": 0.75, "factual": 0.85}
    passed = overall >= 0.7 and edu >= 0.75 and factual >= 0.85
    return QualityReport(overall, passed, dims, limits, judge=judge,
                         by_dimension={"educational_value": ["educational_value: states facts without explaining them"]})


def test_reasons_name_every_failing_dimension_and_no_passing_one():
    assert _report(0.9, 0.9, 0.9).reasons() == []
    reasons = _report(0.8, 0.6, 0.5).reasons()
    assert {r["dimension"] for r in reasons} == {"educational_value", "factual"}
    assert {"dimension": "educational_value", "finding": "states facts without explaining them"} in reasons
    # A failing dimension without a finding of its own still gets one, from its numbers.
    assert {"dimension": "factual", "finding": "scored 0.50, below 0.85"} in reasons


def test_only_a_confident_failure_is_worth_a_regeneration():
    assert not _report(0.9, 0.9, 0.9).confident_failure()
    assert not _report(0.78, 0.72, 0.85).confident_failure()  # a near miss: the gate's doubt
    assert _report(0.6, 0.55, 0.85).confident_failure()  # far below
    assert _report(0.78, 0.72, 0.85, judge="anthropic").confident_failure()  # a reviewer confirmed it


def test_the_gate_stays_off_the_generate_functions_cold_start():
    """The discourse checks add no model and no import to a cold start: the gate loads on the first POST."""
    import subprocess
    import sys

    script = ("import sys; import functions.generate.main; "
              "print(sorted(m for m in sys.modules if m.startswith('functions.generate.quality')))")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
