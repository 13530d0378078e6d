"""Issue 20, twelfth round, from heldout11's false rejects (and the seen parts' remaining ones):

- plain elementary prose a little past the band, whose sentences and vocabulary are both a child's,
  is not "far above" it (the most frequent cause on unseen text: 10 sound documents of heldout6-11);
- a learning objective, an exercise or a question asserts nothing, so it cannot contradict the body;
- an infinitive left implied ends an English phrase ("more than it is used to");
- a title names the topic in another inflection ("Phytohormone" for "Phytohormonen");
- order: a conclusion field closes wherever it likes, a section may open by pointing at its heading,
  and a marker out of place no longer fails on "neighbours share fewer words than distant sentences".
Each test of a new behaviour fails on the eleventh round's scorer (24bfde3); the guards beside them show
what still fails."""

from __future__ import annotations

from functions.generate.quality import consistency, coverage, discourse
from functions.generate.quality.text import analyse

BAND = (3.0, 6.0)


def test_elementary_text_just_past_the_band_with_a_childs_sentences_and_words_passes():
    assert discourse.audience_fit(6.5, BAND, "elementary", polysyllabic=0.07, words_per_sentence=13.9) == []
    assert discourse.audience_fit(7.3, BAND, "elementary", polysyllabic=0.09, words_per_sentence=14.5) == []


def test_elementary_text_past_the_band_with_long_sentences_or_long_words_still_fails():
    assert discourse.audience_fit(6.5, BAND, "elementary", polysyllabic=0.07, words_per_sentence=16.0)
    assert discourse.audience_fit(6.6, BAND, "elementary", polysyllabic=0.12, words_per_sentence=12.0)
    # From 1.5 grades above the band the grade alone decides; other languages and audiences are unchanged.
    assert discourse.audience_fit(7.6, BAND, "elementary", polysyllabic=0.05, words_per_sentence=10.0)
    # French has no such limits; Spanish has its own since the fifteenth round (tests/test_quality_round15.py).
    assert discourse.audience_fit(6.5, BAND, "elementary", polysyllabic=0.05, words_per_sentence=10.0, language="fr")
    assert discourse.audience_fit(6.5, BAND, "elementary", polysyllabic=0.07, words_per_sentence=10.0, language="es")
    assert discourse.audience_fit(11.2, (6.0, 8.0), "middle_school", polysyllabic=0.05, words_per_sentence=10.0)
    assert discourse.audience_fit(6.5, BAND, "elementary")  # nothing measured: no excuse


def test_objectives_exercises_and_questions_assert_nothing():
    guide = {"title": "Quadratic equations",
             "learning_objectives": ["Distinguish independent events from mutually exclusive events"],
             "overview": "Two mutually exclusive events with positive probability can never be independent events.",
             "practice_exercises": ["Write a quadratic equation in standard form ax² + bx + c = 0 with a = 2."],
             "detailed_content": "A quadratic equation in standard form ax² + bx + c = 0 needs a ≠ 0 with a = 3."}
    assert consistency.find(analyse(guide)) == []
    faq = {"title": "Protein", "items": [
        {"question": "Is it true that eating lots of protein builds extra muscle on its own?", "answer": "No.",
         "category": "Myths"},
        {"question": "What builds muscle?", "answer": "Eating lots of protein doesn't build extra muscle on its own.",
         "category": "Myths"}]}
    assert consistency.find(analyse(faq)) == []


def test_two_claims_in_the_body_still_contradict():
    guide = {"title": "The Moon",
             "learning_objectives": ["Describe the phases of the Moon"],
             "overview": "The Moon takes about 29.5 days to go through all of its phases once.",
             "detailed_content": "The Moon takes about 14 days to go through all of its phases once."}
    assert consistency.find(analyse(guide))


def _truncation(text: str) -> list:
    doc = analyse({"title": "Training", "key_concepts": [text]})
    doc.language = "en"
    return discourse.truncation(doc)


def test_an_implied_infinitive_ends_an_english_phrase():
    assert _truncation("Overload: the body adapts if it is asked to do more than it is used to") == []
    assert _truncation("Rest: take a day off whenever you need to") == []
    assert _truncation("Overload: the body adapts if it is asked to do more than it can handle when it comes to")


def test_a_title_names_the_topic_in_another_inflection():
    cards = {"title": "Phytohormone – Grundbegriffe", "items": [
        {"term": t, "definition": d, "difficulty": "easy"} for t, d in (
            ("Auxin", "Fördert die Zellstreckung und die Apikaldominanz im Spross."),
            ("Cytokinine", "Fördern die Zellteilung und verzögern das Altern der Blätter."),
            ("Ethylen", "Ein gasförmiges Hormon, das die Reifung von Früchten auslöst."))]}
    doc = analyse(cards)
    doc.language = "de"
    assert coverage.named_by_kind(doc, "Karteikarten zu Phytohormonen", "flashcards")


def _order(content: dict, content_type: str) -> list:
    doc = analyse(content)
    doc.language = "en"
    return discourse.order_features(doc, "", content_type)


def test_a_conclusion_closes_wherever_it_likes():
    script = {"title": "The blues", "introduction": "Welcome to Backbeat. Today we follow the blues from the Delta.",
              "main_content": "The blues grew out of work songs. It spread north with the Great Migration.",
              "conclusion": "So the next time you hear a guitarist bend a note, you know where it comes from. "
                            "Thanks for listening to Backbeat. Next week we follow the music to Chicago. "
                            "Until then, keep listening.",
              "speaker_notes": "Warm tone.", "estimated_duration_minutes": 8}
    assert _order(script, "podcast_script")["misplaced"] == 0


def test_a_section_may_open_by_pointing_at_its_heading():
    reading = {"title": "Sonata form", "introduction": "Sonata form shaped a century of music.", "sections": [
        {"title": "A worked example: Mozart, K. 545, first movement",
         "content": "This 73-bar movement is a compact model. Its exposition states the theme in C major. "
                    "The development is brief. The recapitulation returns to the tonic."}],
        "conclusion": "The form is a habit of thought.", "references": []}
    assert _order(reading, "detailed_reading_material")["misplaced"] == 0
    # "This" with nothing in the heading to point at still refers to nothing.
    reading["sections"][0]["content"] = ("This process is a compact model. Its exposition states the theme in C major. "
                                         "The development is brief. The recapitulation returns to the tonic.")
    assert _order(reading, "detailed_reading_material")["misplaced"] == 1


def test_one_marker_out_of_place_needs_a_second_signal(monkeypatch):
    doc = analyse({"main_content": "One. Two. Three."})
    signals = {"given": 0, "misplaced": 1, "lead": 0, "ordinal": 0, "years": 0, "back_step": 0, "sections": 0,
               "turns": 0, "near": 0.0, "far": 0.1}  # the eleventh round read near < far as the second signal
    monkeypatch.setattr(discourse, "order_features", lambda *a: signals)
    monkeypatch.setattr(discourse, "meaning_cohesion", lambda d: 0.0)
    assert discourse.order(doc, "", "one_pager_summary") == []
    monkeypatch.setattr(discourse, "order_features", lambda *a: {**signals, "lead": 1})
    assert discourse.order(doc, "", "one_pager_summary")
