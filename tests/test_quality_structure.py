"""Structure's redundancy checks: near-duplicate items, answers that restate their question and
definitions that repeat their term. Each check has inputs that must fail and inputs that must pass,
and the sound documents of the corpus and tests/quality_docs raise none of them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from functions.generate.quality import assess, redundancy, structure

HERE = Path(__file__).parent
_REDUNDANCY = ("say nearly the same thing", "only restates", "uses the term it defines")


def _sound_documents() -> list[tuple[str, str, dict]]:
    docs = []
    for path in sorted((HERE / "quality_corpus").glob("*.json")):
        data = json.loads(path.read_text())
        docs += [(data["content_type"], e["name"], e["content"]) for e in data["must_pass"]]
    for path in sorted((HERE / "quality_docs").glob("*.json")):
        docs.append((path.stem, "quality_docs good", json.loads(path.read_text())["good"]))
    return docs


def _good(name: str) -> tuple[dict, dict]:
    spec = json.loads((HERE / "quality_docs" / f"{name}.json").read_text())
    return spec, copy.deepcopy(spec["good"])


def _redundancy_problems(content_type: str, doc: dict) -> list[str]:
    return [p for p in structure.score(content_type, doc)[1] if any(k in p for k in _REDUNDANCY)]


@pytest.mark.parametrize("content_type,name,doc", _sound_documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_sound_documents_raise_no_redundancy_problem(content_type, name, doc):
    assert _redundancy_problems(content_type, doc) == []


# --- near-duplicate items -----------------------------------------------------------------------


def test_near_duplicate_flashcards_lower_structure_and_say_which():
    spec, doc = _good("flashcards")
    before, _ = structure.score("flashcards", doc)
    doc["items"][4] = {"term": "Lava flow", "definition": doc["items"][2]["definition"].replace("It glows", "Lava glows"),
                       "difficulty": "easy"}
    after, problems = structure.score("flashcards", doc)
    assert after < before
    assert any("items 3 and 5 say nearly the same thing" in p for p in problems), problems
    report = assess("flashcards", doc, topic=spec["topic"], audience=spec["audience"],
                    learning_objectives=spec["learning_objectives"] or None)
    assert any("say nearly the same thing" in w for w in report.weaknesses)  # reaches the regeneration prompt


def test_reworded_questions_are_near_duplicates():
    spec, doc = _good("reading_guide_questions")
    doc["questions"][1] = "Why did the author choose the narrator, and how does the narrator shape the story?"
    doc["questions"][3] = "How does the narrator shape the story, and why did the author choose this narrator?"
    assert any("items 2 and 4 say nearly the same thing" in p for p in _redundancy_problems("reading_guide_questions", doc))


def test_items_that_share_words_but_differ_are_not_near_duplicates():
    # Same words, opposite meaning: 0.75 of their stems shared, under the 0.8 threshold.
    assert redundancy.near_duplicates([
        "Shortage: when buyers want more than sellers offer at the current price",
        "Surplus: when sellers offer more than buyers want at the current price",
    ]) == []
    # Parallel short objectives share words by design: too short to judge.
    assert redundancy.near_duplicates(["Compare two fractions with the same bottom number",
                                       "Add fractions with the same bottom number"]) == []
    assert redundancy.near_duplicates(["Volcanic ash is made of tiny bits of rock and glass from an eruption",
                                       "Volcanic ash is made of tiny bits of rock and glass from eruptions"]) == [(0, 1)]


def test_an_exact_duplicate_is_counted_once():
    _, doc = _good("flashcards")
    doc["items"][5] = copy.deepcopy(doc["items"][1])
    problems = structure.score("flashcards", doc)[1]
    assert any("repeats itself (1 duplicate)" in p for p in problems)
    assert not any("say nearly the same thing" in p for p in problems)


def test_references_may_look_alike():
    _, doc = _good("detailed_reading_material")
    doc["references"] = ["Smith, J. (2020). Plate tectonics today. Journal of Geology, 12(3), 45-67.",
                         "Smith, J. (2021). Plate tectonics today. Journal of Geology, 13(1), 10-29."]
    assert _redundancy_problems("detailed_reading_material", doc) == []


# --- answers that restate their question ----------------------------------------------------------


def test_an_answer_that_restates_its_question_fails():
    spec, doc = _good("faq_collection")
    before, _ = structure.score("faq_collection", doc)
    question = doc["items"][1]["question"]
    doc["items"][1]["answer"] = question.rstrip("?") + ", yes: that is the question about " + question.rstrip("?").lower() + "."
    after, problems = structure.score("faq_collection", doc)
    assert after < before
    assert any("item 2: the answer only restates the question" in p for p in problems), problems


def test_restated_share_judges_only_answers_long_enough():
    q = "Why do leaves change colour in autumn?"
    assert redundancy.restated_share(q, "Leaves change colour in autumn.") == 1.0
    assert redundancy.restated_share(q, "Yes, in autumn.") is None  # one content word: too short to judge
    share = redundancy.restated_share(q, "Leaves stop making chlorophyll as days shorten, so yellow and orange "
                                         "pigments that were hidden all summer show through.")
    assert share is not None and share < redundancy.RESTATED


# --- definitions that repeat their term ------------------------------------------------------------


@pytest.mark.parametrize("term,definition", [
    ("Osmosis", "The process of osmosis in cells."),
    ("Magma", "Magma is magma."),
    ("Magma", "Magma"),
    ("Cell membrane", "A cell membrane is the membrane of a cell membrane, around the cell."),
])
def test_circular_definitions_fail(term, definition):
    assert redundancy.repeats_term(term, definition)


@pytest.mark.parametrize("term,definition", [
    ("Volcano", "A volcano is an opening in the Earth where hot melted rock comes out."),
    ("Ash", "Volcanic ash is made of tiny bits of rock and glass."),
    ("Whole", "the full thing, like a whole pizza"),  # the term in an example, not in the defining clause
    ("Cell membrane", "A thin layer around the cell that controls what enters and leaves."),
    ("Senate", "The upper house of Congress, with two senators from each state."),
])
def test_definitions_that_name_their_subject_pass(term, definition):
    assert not redundancy.repeats_term(term, definition)


def test_flashcards_and_key_concepts_that_define_a_term_by_itself_fail():
    _, doc = _good("flashcards")
    doc["items"][3]["definition"] = f"The idea of a {doc['items'][3]['term'].lower()}, as in geology."
    problems = _redundancy_problems("flashcards", doc)
    assert problems == ["structure: items: item 4: the definition uses the term it defines; explain each term in other words"]

    _, doc = _good("study_guide")
    before, _ = structure.score("study_guide", doc)
    doc["key_concepts"][0] = "Fraction: the number you get when you write a fraction"
    after, problems = structure.score("study_guide", doc)
    assert after < before
    assert any("key_concepts: item 1: the definition uses the term it defines" in p for p in problems)
