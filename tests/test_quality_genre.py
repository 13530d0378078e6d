"""Issue 20, fourth round: confident, genre-aware rules. Each change with inputs that must pass (sound
text the third round rejected, or text of the same shape) and inputs that must still fail: "too easy"
only when the grade and the vocabulary agree; greetings, enumerators and conclusions in the order
check by strength and by genre (cold opens, speaker notes, a conclusion opening "So,"); closing
quotation marks, list items and stranded prepositions in the truncation check; notation and labels in
the prose check; pairing without evidence; debunked and asked-about myths; a language lesson's topic."""

from __future__ import annotations

import copy

import pytest

from functions.generate.quality import assess, coherence, coverage, discourse, factual
from functions.generate.quality.text import analyse
from tests.quality_corpus.labelled import corpus

ENTRIES = {e["id"]: e for e in corpus.load()}


def _assess(entry: dict, content: dict | None = None, **request):
    e = {**entry, **request}
    return assess(e["content_type"], content if content is not None else e["content"], topic=e["topic"],
                  audience=e["audience"], learning_objectives=e["learning_objectives"] or None, language=e["language"])


def _findings(report) -> str:
    return "\n".join(r["finding"] for r in report.reasons())


# --- audience: "far too easy" needs the grade and the vocabulary -------------------------------------

@pytest.mark.parametrize("source", ["h3-a-sg-big-o", "h3-b-drm-big-o", "h3-d-onepager-big-o", "q4-sg-recursion",
                                    "q4-mco-statistics-basics", "h3-a-faq-inflacion", "h3-d-study-elasticidad"])
def test_plain_technical_prose_for_older_students_is_not_too_easy(source):
    """Short sentences on a technical subject score like a children's text on the grade formulas, but
    name their concepts with long words (English), or are Spanish, whose grade scale cannot tell."""
    report = _assess(ENTRIES[source])
    assert report.passed, report.reasons()


@pytest.mark.parametrize("variant", ["wa-op-college-monetary", "wa-faq-college-quantum",
                                     "h2-rg-charlotte~wrong_audience", "h3-a-fc-flower-parts~wrong_audience"])
def test_childrens_text_requested_for_college_is_still_too_easy(variant):
    report = _assess(ENTRIES[variant])
    assert not report.passed and "younger readers" in _findings(report)


def test_too_easy_needs_the_vocabulary_to_agree_and_an_assessed_language():
    band = (13.0, 16.0)
    assert discourse.audience_fit(4.0, band, "college", polysyllabic=0.02)
    assert discourse.audience_fit(4.0, band, "college", polysyllabic=0.08) == []
    assert discourse.audience_fit(4.0, band, "college") == []  # no vocabulary measured: no claim
    assert discourse.audience_fit(4.0, band, "college", polysyllabic=0.0, language="es") == []
    assert discourse.audience_fit(4.0, band, "college", polysyllabic=0.0, language="de") == []
    # Too hard still reads the grade alone.
    assert discourse.audience_fit(6.3, (3.0, 6.0), "elementary", polysyllabic=0.0)


# --- order: strong and weak signals, by genre ---------------------------------------------------------

def test_a_greeting_late_in_a_passage_is_strong_except_in_a_podcasts_cold_open():
    passage = ("Paris, winter 1898. A young chemist stirs a pot of ore. The shed is cold. "
               "Welcome to Turning Points. Today we follow her work.")
    sentences = discourse.split_sentences(passage)
    assert discourse._misplaced(passage, sentences, "podcast_script", first=True) == (0, 2)
    assert discourse._misplaced(passage, sentences, "podcast_script", first=False) == (2, 0)
    assert discourse._misplaced(passage, sentences, "study_guide", first=True) == (2, 0)


@pytest.mark.parametrize("sentence", ["First, for some vaccines, antibody levels fade over the years.",
                                      "Think of an antigen as a face on a wanted poster.",
                                      "Heute messen Satelliten die Bewegung der Platten direkt.",
                                      "Zuerst machst du die Brüche gleichnamig."])
def test_enumerators_and_analogies_mid_passage_are_weak(sentence):
    passage = "The body learns. It keeps a memory of the germ. Cells copy it. " + sentence + " That is all."
    sentences = discourse.split_sentences(passage)
    assert discourse._misplaced(passage, sentences, "podcast_script") == (0, 1)


def test_ordinals_count_only_at_the_head_of_a_sentence():
    passage = ("A second distance narrows this to a circle. A third gives two points. The fourth fixes the clock. "
               "An error of one millionth of a second is 300 metres.")
    assert discourse._passage_order(passage, discourse.split_sentences(passage), frozenset(), "podcast_script")[2] == 0
    steps = "Third, mix the dough. Second, weigh the flour. Then bake it for an hour. Finally, let it cool."
    assert discourse._passage_order(steps, discourse.split_sentences(steps), frozenset(), "study_guide")[2] == 1


def test_a_word_that_only_starts_like_a_greeting_is_none():
    passage = ("Georg Ohm measured currents in wires. His result was doubted. Careful work confirmed it. "
               "Today it is the first tool an engineer uses. It has limits.")
    assert discourse._misplaced(passage, discourse.split_sentences(passage), "one_pager_summary") == (0, 0)


def test_thanking_for_a_question_is_not_a_conclusion_but_thanks_for_listening_is():
    opening = "Mateo pregunta por el frío. ¡Gracias por tu pregunta! La Tierra está inclinada. Por eso hay estaciones."
    closing = "Mateo pregunta por el frío. ¡Gracias por escuchar! La Tierra está inclinada. Por eso hay estaciones."
    for passage, expected in ((opening, (0, 0)), (closing, (1, 0))):
        assert discourse._misplaced(passage, discourse.split_sentences(passage), "podcast_script") == expected


def test_a_conclusion_may_open_with_a_connective_but_not_with_a_pronoun():
    so = "Therefore the Moon does not change shape. Only the lit part we see changes. Watch it this week."
    it = "It mixed generosity with strategy. The plan rebuilt Europe. Historians still debate it."
    for passage, concluding, expected in ((so, True, 0), (so, False, 1), (it, True, 1)):
        strong, _ = discourse._misplaced(passage, discourse.split_sentences(passage), "podcast_script",
                                         concluding=concluding)
        assert strong == expected, passage


def test_speaker_notes_are_not_read_for_order():
    entry = ENTRIES["h3-d-podcast-vaccines-immune"]
    doc = copy.deepcopy(entry["content"])
    notes = "Pause here. Today we recap. In conclusion, read slowly. Welcome the listener back. Thanks for listening."
    doc["speaker_notes"] = notes
    assert discourse.order(analyse(doc), entry["topic"], "podcast_script") == []
    doc["conclusion"] = notes + " See you soon."  # the same sentences in the discourse itself count
    assert discourse.order(analyse(doc), entry["topic"], "podcast_script")


@pytest.mark.parametrize("source", ["h3-b-pod-fr-marie-curie", "h3-b-pod-ordering-food-spanish", "h3-b-pod-es-estaciones",
                                    "h3-d-podcast-vaccines-immune", "h3-b-drm-de-plattentektonik", "h3-a-sg-brueche",
                                    "q4-pod-apollo13", "q4-pod-de-mauerfall", "q4-pod-es-eclipse-luna",
                                    "q4-drm-darwin-beagle", "q4-op-ohms-law", "q4-pod-gps"])
def test_in_order_podcasts_readings_and_guides_are_in_order(source):
    entry = ENTRIES[source]
    assert discourse.order(analyse(entry["content"]), entry["topic"], entry["content_type"]) == []


# (The hand-written "h3-b-fail-pod-shuffled-marshall-plan", whose only misplaced marker is a conclusion opening
# "It mixed...", failed here until the twelfth round on a second signal it no longer counts: neighbouring
# sentences sharing fewer words than distant ones, as often true of sound prose.)
@pytest.mark.parametrize("variant", ["podcast_script:black holes~shuffled", "podcast_script:sleep and memory~shuffled",
                                     "master_content_outline:quality_docs good~shuffled"])
def test_shuffled_documents_with_an_opening_out_of_place_still_fail_on_order(variant):
    entry = ENTRIES[variant]
    assert discourse.order(analyse(entry["content"]), entry["topic"], entry["content_type"])


# --- truncation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    "Schauen Sie in den Abfallkalender Ihrer Stadt. Fragen Sie die Nachbarn: „Wann kommt die gelbe Tonne?“",
    "Demandez au guichet : « Le train part de quel quai ? »",
    "German marks separable verbs with a prefix. Everyday examples of them:\n• anrufen – to call\n• zumachen – to close",
])
def test_text_ending_in_a_closing_quote_or_on_a_list_item_is_not_cut(answer):
    assert discourse.truncation(analyse({"introduction": answer})) == []


@pytest.mark.parametrize("text", ["Know which nutrients to get less of and which to get more of",
                                  "Describe what a cell membrane is made of"])
def test_an_english_clause_may_strand_its_preposition(text):
    assert discourse.truncation(analyse({"learning_objectives": [text]})) == []


@pytest.mark.parametrize("text", ["The lower house of Congress, where the number of",
                                  "A set of strategies in which no player can do better by",
                                  "Cells release energy from glucose through",
                                  "Examples of verbs in this list:\n• anrufen – to call\n• zumachen – to close the"])
def test_text_cut_after_a_preposition_or_article_is_still_cut(text):
    assert discourse.truncation(analyse({"learning_objectives": [text]}))


def test_a_long_prose_field_cut_mid_sentence_is_still_cut_even_after_a_numbered_step():
    text = ("1. Die Lenzsche Regel Das Minuszeichen im Induktionsgesetz drückt die Lenzsche Regel aus: "
            "Der Induktionsstrom ist so gerichtet, dass er seiner Ursache entgegenwirkt und")
    assert discourse.truncation(analyse({"detailed_content": text}))


# --- prose: notation and labels are not word salad ---------------------------------------------------

@pytest.mark.parametrize("sentence", ["log_b(x) = y means b^y = x (b > 0, b ≠ 1, x > 0).",
                                      "Den magnetischen Fluss Φ = B · A · cos α berechnen",
                                      "Den kleinsten gemeinsamen Nenner (Hauptnenner) bestimmen",
                                      "Rank common functions by growth rate"])
def test_formulas_and_labels_are_neither_prose_nor_salad(sentence):
    language = "de" if "Den " in sentence else "en"
    vocab = coherence.language.function_words(language)
    share, worst = coherence._prose_share(analyse({"summary": sentence}), vocab)
    assert (share, worst) == (1.0, None)


def test_word_salad_with_figures_in_it_is_still_salad():
    text = "Try to explain 42 noodle meadow galaxy velvet trombone noodle x to your friends."
    share, worst = coherence._prose_share(analyse({"summary": text}), coherence.language.function_words("en"))
    assert share == 0.0 and worst


# --- pairing needs evidence ------------------------------------------------------------------------

def test_pairing_abstains_when_fewer_than_three_prompts_share_a_word_with_any_response():
    entry = ENTRIES["h3-d-outline-household-budget"]
    stats = discourse.pairing_stats(analyse(entry["content"]), entry["content_type"])
    assert stats is not None and stats["linked"] < discourse.MIN_LINKED and stats["ratio"] < 0.6
    assert discourse.pairing(analyse(entry["content"]), entry["content_type"]) == []
    swapped = ENTRIES["h3-d-outline-nash-equilibrium~mismatched"]
    assert discourse.pairing(analyse(swapped["content"]), swapped["content_type"])


# --- myths reported, refuted or asked about ------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Many people think summer happens because the Earth is closer to the Sun. That is not the reason! It is the tilt.",
    "Do we really use only 10 percent of our brain? No: scans show activity everywhere.",
    "Some people say bats are blind. That is not true!",
])
def test_a_myth_reported_refuted_or_asked_about_is_not_stated(text):
    value, weaknesses = factual.score(analyse({"main_content": text}), "one_pager_summary")
    assert not any("misconception" in w for w in weaknesses), weaknesses


@pytest.mark.parametrize("text", [
    "Summer happens because the Earth is closer to the Sun. The days are longer too.",
    "Since people are either left-brained or right-brained, which kind of reader will enjoy the trial?",
    "Bats are blind. They find insects by echoes.",
])
def test_a_myth_stated_or_presupposed_is_still_a_misconception(text):
    value, weaknesses = factual.score(analyse({"main_content": text}), "one_pager_summary")
    assert any("misconception" in w for w in weaknesses), weaknesses


# --- a language lesson's topic ------------------------------------------------------------------------

def test_a_language_lessons_frame_and_own_language_are_not_topic_words():
    assert set(coverage.topic_terms("Deutsch lernen: Wortschatz für den Arztbesuch (A2)", "de").values()) == {"Arztbesuch"}
    # In an English document, "German" is what the text is about, not the language it is written in.
    assert "German" in coverage.topic_terms("German vocabulary: at the doctor's", "en").values()
    assert coverage.topic_terms("Deutsch", "de") == coverage.topic_terms("Deutsch")  # nothing else left: kept


def test_a_compound_topic_word_is_named_by_its_parts():
    doc = analyse({"title": "Beim Arzt", "items": [{"term": "der Termin", "definition": "Eine feste Zeit für den Besuch beim Arzt."}]})
    assert coverage.compound_parts("Arztbesuch", doc) == ("arzt", "besuch")
    assert coverage.compound_parts("Zahnarztpraxis", doc) is None


@pytest.mark.parametrize("source", ["h3-d-cards-beim-arzt", "q4-fc-de-bahnhof", "q4-fc-fr-cuisine", "q4-fc-es-aeropuerto"])
def test_vocabulary_cards_for_a_language_lesson_pass(source):
    report = _assess(ENTRIES[source])
    assert report.passed, report.reasons()


def test_vocabulary_cards_under_another_lessons_topic_still_fail():
    entry = ENTRIES["q4-fc-de-bahnhof"]
    report = _assess(entry, topic="Deutsch lernen: Wortschatz für den Arztbesuch (A2)")
    assert not report.passed


# --- the fourth round's new sound documents -----------------------------------------------------------

def test_the_fourth_rounds_sound_documents_pass_but_one():
    """23 documents written for the causes above, in other subjects and languages. The reading guide on
    Crónica de una muerte anunciada names its characters but never the novel or its author, which words
    alone cannot tell from a guide to another work (like the L'Étranger guide since the third round)."""
    new = [e for e in ENTRIES.values() if e["id"].startswith("q4-") and e["label"] == "pass"]
    assert len(new) == 23
    failing = {e["id"] for e in new if not _assess(e).passed}
    assert failing == {"q4-rgq-es-cronica"}
