"""Issue 20, fifth round: what the gate can be confident about, from heldout4's false rejects. Each rule
with text that must pass (the shape of a sound document the fourth round rejected) and text that must
still fail: contradictions from figures only as one claim with one figure changed, and never between
items with different labels; a myth quoted as someone's claim; a lesson of another language written partly in it;
a run-in heading before an opening; one section stepping back in time; German middle-school text; and
two recall rules: the same speaker in consecutive turns of a script, and mismatched flashcards with a
strong signal."""

from __future__ import annotations

import pytest

from functions.generate.quality import assess, coherence, consistency, coverage, discourse, factual, language
from functions.generate.quality.text import analyse
from tests.quality_corpus.labelled import corpus

ENTRIES = {e["id"]: e for e in corpus.load()}


def _assess(entry: dict, **request):
    e = {**entry, **request}
    return assess(e["content_type"], e["content"], topic=e["topic"], audience=e["audience"],
                  learning_objectives=e["learning_objectives"] or None, language=e["language"])


def _contradictions(*sentences: str) -> list[tuple[str, str]]:
    return consistency.find(analyse({"main_content": " ".join(sentences)}))


# --- contradictions -------------------------------------------------------------------------------------

@pytest.mark.parametrize("pair", [
    # Worked examples of one method: the same words, other figures.
    ("Look for two numbers that multiply to 6 and add to -5: they are -2 and -3.",
     "For 2x + 7x + 3 = 0, look for two numbers that multiply to 6 and add to 7: they are 6 and 1."),
    # A range and an example computed from it.
    ("Aim for an emergency fund of 3 to 6 months of needs.",
     "With needs of 1,200 pounds, an emergency fund of 3 months of needs is 3,600 pounds."),
    # Two labelled items of a list, parallel on purpose.
    ("Type I error: rejecting a true null hypothesis, probability alpha.",
     "Type II error: failing to reject a false null hypothesis, probability beta."),
])
def test_worked_examples_ranges_and_labelled_items_are_no_contradiction(pair):
    assert _contradictions(*pair) == []


@pytest.mark.parametrize("pair", [
    ("Global average temperature has risen by about 1.1 degrees since the late 1800s.",
     "Global average temperature has risen by about 2 degrees since the late 1800s."),
    ("Global average temperature has risen by about 1.1 degrees Celsius since the late 1800s.",
     "Global average temperature has fallen by about 1.1 degrees Celsius since the late 1800s."),
    ("Myth: rocks on the sea floor get older with distance from the ridges.",
     "Myth: rocks on the sea floor get younger with distance from the ridges."),
])
def test_one_changed_figure_or_a_reversal_under_the_same_label_still_contradicts(pair):
    assert _contradictions(*pair)


# --- myths ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Today's defendant is a big one: 'We only use ten percent of our brains.' Let's put it on trial.",
    'The slogan says "we only use 10% of our brains", and it sells courses.',
])
def test_a_myth_quoted_as_a_claim_is_not_stated(text):
    _, weaknesses = factual.score(analyse({"main_content": text}), "podcast_script")
    assert not any("misconception" in w for w in weaknesses), weaknesses


@pytest.mark.parametrize("text", [
    "Today's fact is a big one: we only use ten percent of our brains. Let's learn to use the rest.",
    "The coach's 'secret' is simple: we only use 10% of our brains, so train the rest.",
])
def test_a_myth_outside_quotation_marks_is_still_stated(text):
    _, weaknesses = factual.score(analyse({"main_content": text}), "podcast_script")
    assert any("misconception" in w for w in weaknesses), weaknesses


# --- a lesson of another language -------------------------------------------------------------------

def test_the_language_a_lesson_teaches_is_named_by_its_topic():
    assert language.taught("Karteikarten: wichtige unregelmäßige Verben im Englischen, 7. Klasse", "de") == "en"
    assert language.taught("Esquema de curso de inglés para adultos principiantes", "es") == "en"
    assert language.taught("Photosynthese für die 7. Klasse", "de") is None
    assert language.taught("Deutsch lernen: Wortschatz", "de") is None  # its own language


@pytest.mark.parametrize("source", ["h4-de-irregular-verbs-en", "h4-d-es-ingles-presentarse-outline"])
def test_a_lesson_of_another_language_written_partly_in_it_passes(source):
    report = _assess(ENTRIES[source])
    assert report.passed, report.reasons()


def test_a_lesson_in_the_taught_language_alone_is_still_the_wrong_language():
    # Requested in German, a lesson of English written in English only.
    cards = {"title": "Irregular verbs", "items": [
        {"term": "go - went - gone", "definition": "We went to London last summer and we have gone there again."},
        {"term": "see - saw - seen", "definition": "I saw a film on Friday and I have seen it twice now."},
        {"term": "take - took - taken", "definition": "I took the bus to school because it was raining a lot."},
        {"term": "eat - ate - eaten", "definition": "We ate pizza on Saturday and we have eaten it every week."}]}
    integrity = coherence.score(analyse(cards), "de", "Karteikarten: unregelmäßige Verben im Englischen")
    assert integrity.value == 0.0 and "written in English" in integrity.weaknesses[0]
    # The same cards when the topic teaches another language than the one they are in.
    assert coherence.score(analyse(cards), "de", "Karteikarten: Verben im Französischen").value == 0.0


def test_the_title_of_a_lesson_of_another_language_may_name_its_subject_in_that_language():
    doc = analyse({"title": "Irregular Verbs", "items": [{"term": "go", "definition": "gehen"}]})
    doc.language = "de"
    assert coverage.named_by_kind(doc, "Karteikarten: unregelmäßige Verben im Englischen", "flashcards")
    assert not coverage.named_by_kind(doc, "Karteikarten: Wetter und Jahreszeiten", "flashcards")


# --- order ------------------------------------------------------------------------------------------

def test_an_opening_after_a_run_in_heading_heads_its_paragraph():
    passage = ("The setup. A disease affects 1 in 1,000 people. A test has 99% sensitivity.\n\n"
               "With natural frequencies. Imagine 100,000 people. 100 have the disease. 99 of them test positive.")
    assert discourse._misplaced(passage, discourse.split_sentences(passage), "one_pager_summary") == (0, 0)
    inside = ("The setup. A disease affects 1 in 1,000 people. A test has 99% sensitivity. Of those tested, "
              "most are healthy. Imagine 100,000 people. 100 have the disease.")
    assert discourse._misplaced(inside, discourse.split_sentences(inside), "one_pager_summary") == (1, 0)


def _sections(*years: int) -> dict:
    return {"title": "Impressionism", "sections": [
        {"title": f"Part {i}", "content": f"In {y} the painters met again. They showed new work. Critics wrote about it."}
        for i, y in enumerate(years, 1)]}


def test_one_section_stepping_back_in_time_is_weak_and_several_are_strong():
    # Two steps back in a row of years (the first is free: an introduction may look ahead).
    thematic = discourse.order_features(analyse(_sections(1863, 1841, 1877, 1874, 1886)))
    assert (thematic["years"], thematic["back_step"]) == (0, 1)
    assert discourse.order(analyse(_sections(1863, 1841, 1877, 1874, 1886))) == []
    broken = discourse.order_features(analyse(_sections(1886, 1877, 1874, 1863, 1841)))
    assert broken["years"] >= 2 and broken["back_step"] == 0
    assert discourse.order(analyse(_sections(1886, 1877, 1874, 1863, 1841)))


def _script(*turns: tuple[str, str]) -> dict:
    return {"title": "Brain Myths", "introduction": "MAYA: Welcome back. DEV: Hi.",
            "main_content": "\n\n".join(f"{who}: {said}" for who, said in turns), "conclusion": "MAYA: Bye."}


def test_the_same_speaker_in_consecutive_turns_is_an_order_signal():
    turns = [("MAYA", "Why does it sound believable?"), ("DEV", "Because it flatters us."),
             ("MAYA", "Evidence one?"), ("DEV", "Brain imaging shows activity everywhere."),
             ("MAYA", "Evidence two?"), ("DEV", "Damage anywhere causes deficits.")]
    doc = analyse(_script(*turns))
    assert discourse._repeated_turns(doc, "podcast_script") == 0
    moved = [turns[0], turns[2], turns[1], turns[3], turns[5], turns[4]]  # MAYA MAYA DEV DEV DEV MAYA
    assert discourse._repeated_turns(analyse(_script(*moved)), "podcast_script") == 3
    assert discourse.order(analyse(_script(*moved)), "brain myths", "podcast_script")
    # Only dialogue scripts, and only labels used as speakers: a guide's "Example:" twice is no turn.
    assert discourse._repeated_turns(analyse(_script(*moved)), "study_guide") == 0
    notes = {"main_content": "Note: read slowly. Note: pause here. Example: a scan. Then go on."}
    assert discourse._repeated_turns(analyse(notes), "podcast_script") == 0
    # A sound cue or stage direction ends a segment: the same host may open the next one.
    cued = [turns[0], turns[1], turns[2], turns[3]]
    script = _script(*cued)
    script["main_content"] += "\n\n[Music sting]\n\nDEV: Welcome back. MAYA: Thanks.\n\n(SFX: gavel) MAYA: Guilty."
    assert discourse._repeated_turns(analyse(script), "podcast_script") == 0
    script["main_content"] = script["main_content"].replace("[Music sting]", "").replace("(SFX: gavel) ", "")
    assert discourse._repeated_turns(analyse(script), "podcast_script") == 2


@pytest.mark.parametrize("source", ["h4-b-silk-road-podcast", "h4-c-passwords-podcast", "h4-c-needs-wants-podcast",
                                    "h4-d-french-gender-podcast", "h4-a-brain-myth-podcast"])
def test_in_order_scripts_have_no_repeated_turns_and_their_shuffles_do(source):
    entry = ENTRIES[source]
    assert discourse._repeated_turns(analyse(entry["content"]), "podcast_script") == 0
    shuffled = ENTRIES[source + "~shuffled"]
    assert discourse._repeated_turns(analyse(shuffled["content"]), "podcast_script") >= 2


# --- audience ---------------------------------------------------------------------------------------

def test_german_middle_school_text_is_too_hard_only_past_the_general_margin():
    band = (6.0, 8.0)
    assert discourse.audience_fit(11.1, band, "middle_school", language="de") == []
    assert discourse.audience_fit(12.5, band, "middle_school", language="de")
    assert discourse.audience_fit(11.1, band, "middle_school", language="en")  # English keeps its margin
    assert discourse.audience_fit(7.5, (3.0, 6.0), "elementary", language="de")  # young readers too


# --- mismatched flashcards --------------------------------------------------------------------------

# (h4-c-bank-vokabeln-de~mismatched, a signal of 0.84, is no longer "strong" since the tenth round: 0.95.)
@pytest.mark.parametrize("variant", ["h4-c-fractions-fr~mismatched",
                                     "h4-d-computing-basics-cards~mismatched", "h3-a-fc-volcans~mismatched"])
def test_mismatched_cards_with_a_strong_signal_fail(variant):
    entry = ENTRIES[variant]
    assert discourse.pairing(analyse(entry["content"]), "flashcards")


@pytest.mark.parametrize("source", ["flashcards:cell biology", "flashcards:statistics", "h2-fc-weather",
                                    "h3-c-adaptive-immunity-flashcards", "h4-a-cell-organelles"])
def test_sound_cards_whose_definitions_avoid_their_terms_are_not_mismatched(source):
    entry = next(e for i, e in ENTRIES.items() if i.startswith(source) and e["label"] == "pass")
    assert discourse.pairing(analyse(entry["content"]), "flashcards") == []


# --- heldout4's sound documents ---------------------------------------------------------------------

def test_heldout4s_sound_documents_pass():
    """Since the ninth round also the fractions study guide, whose key concepts define each other (the
    LCD is "the LCM of the denominators"): words alone rearrange them better, their meaning pairs them."""
    sound = [e for e in ENTRIES.values() if e["split"] == "heldout4" and e["label"] == "pass"]
    assert len(sound) == 80
    assert {e["id"] for e in sound if not _assess(e).passed} == set()
