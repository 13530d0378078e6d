"""Issue 20, third round: the gate passes a document unless it finds a specific, confident defect.
Each check or change with inputs that must fail and inputs that must pass: style scores that no longer
fail genre documents alone, topic terms in every supported language, documents that need not repeat
their topic, shallowness, polite refusals, cut-off list items, FAQ answers that refer to their question."""

from __future__ import annotations

import copy

import pytest

from functions.generate.quality import assess, coverage, discourse
from functions.generate.quality.text import analyse, stem
from tests.quality_corpus.labelled import corpus

ENTRIES = {e["id"]: e for e in corpus.load()}


def _assess(entry: dict, content: dict | None = None, **request):
    e = {**entry, **request}
    return assess(e["content_type"], content if content is not None else e["content"], topic=e["topic"],
                  audience=e["audience"], learning_objectives=e["learning_objectives"] or None, language=e["language"])


def _findings(report) -> str:
    return "\n".join(r["finding"] for r in report.reasons())


# --- style is not a defect --------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["h2-mo-probability", "h2-rm-coral-reefs", "h2-pod-es-revolucion",
                                    "h2-op-fr-passe-compose", "mo-de-industrialisierung", "h2-faq-de-bahn"])
def test_genre_documents_that_teach_without_tasks_or_questions_pass(source):
    """Outlines, readings, podcasts, summaries and FAQs that explain without quizzing the learner (they
    failed on educational value or engagement before)."""
    report = _assess(ENTRIES[source])
    assert report.passed, report.reasons()


def test_a_document_without_the_teaching_moves_still_fails_when_it_has_a_defect():
    # The same outline with its sections rotated so the review opens it: the defect, not the style, fails it.
    entry = ENTRIES["h2-mo-probability"]
    doc = copy.deepcopy(entry["content"])
    doc["sections"][0]["title"], doc["sections"][-1]["title"] = "Course review", doc["sections"][0]["title"]
    report = _assess(entry, doc)
    assert not report.passed and "out of order" in _findings(report)


def test_nothing_to_read_stays_unreadable():
    empty = assess("study_guide", {"title": "Fractions"}, topic="Fractions", audience="elementary")
    assert empty.dimensions["readability"] == 0.0 and not empty.passed


# --- topic terms in every language --------------------------------------------------------------

@pytest.mark.parametrize("topic, expected", [
    ("Die Weimarer Republik", {"weimarer", "republik"}),
    ("La guerra civil española", {"guerra", "civil", "española"}),
    ("L'Étranger d'Albert Camus", {"étranger"}),
    ("Il Rinascimento dell'Italia", {"rinascimento", "italia"}),
    ("Der Mietvertrag", {"mietvertrag"}),
])
def test_topic_terms_drop_every_languages_function_words_and_elisions(topic, expected):
    assert {w.lower() for w in coverage.topic_terms(topic).values()} == expected


def test_an_article_in_the_topic_no_longer_hides_a_neighbouring_topic():
    """"Die" is in every German body: the German Empire passed off as the Weimar Republic is caught now."""
    report = _assess(ENTRIES["h2-nt-fc-de-weimar"] | {"content_type": "one_pager_summary"},
                     {"title": "Die Weimarer Republik", "executive_summary": "Das Kaiserreich wurde 1871 gegründet. "
                      "Bismarck prägte die Politik des Reiches bis 1890.",
                      "key_takeaways": ["Das Kaiserreich war ein Bundesstaat.", "Bismarck führte Sozialgesetze ein.",
                                        "Wilhelm II. entließ Bismarck 1890."],
                      "main_content": "Die Reichsgründung fand 1871 im Spiegelsaal von Versailles statt. " * 3})
    assert "'Weimarer', 'Republik'" in _findings(report)


def test_a_plural_in_es_matches_its_singular():
    assert stem("octopuses") == stem("octopus") and stem("viruses") == stem("virus")
    assert stem("cells") == stem("cell")


# --- documents that need not repeat their topic ---------------------------------------------------

@pytest.mark.parametrize("source", ["h2-fc-microecon", "h2-fc-fr-verbes", "h2-fc-de-genetik", "h2-rg-frankenstein"])
def test_category_flashcards_and_a_guide_naming_the_author_are_on_topic(source):
    entry = ENTRIES[source]
    assert discourse.topic_in_body(analyse(entry["content"]), entry["topic"], entry["content_type"]) == []
    assert _assess(entry).passed


def test_flashcards_under_another_title_and_a_guide_about_another_work_still_fail():
    cards = ENTRIES["h2-fc-microecon"]
    other = _assess(cards, topic="Cell biology")  # title "Microeconomics: Core Terms" does not name it
    assert not other.passed and "Cell biology" in _findings(other)
    guide = ENTRIES["nt-rg-odyssey"]  # the Iliad under "The Odyssey by Homer": Homer never named
    assert discourse.topic_in_body(analyse(guide["content"]), guide["topic"], guide["content_type"])


# --- shallowness ------------------------------------------------------------------------------------

def test_one_line_answers_and_sections_are_shallow_and_full_ones_are_not():
    entry = ENTRIES["faq-compost"]
    doc = copy.deepcopy(entry["content"])
    for item in doc["items"]:
        item["answer"] = "It is made from food scraps."
    report = _assess(entry, doc)
    assert discourse.shallowness(analyse(doc), "faq_collection")
    assert not report.passed and "too short to teach" in _findings(report)
    assert discourse.shallowness(analyse(entry["content"]), "faq_collection") == []
    outline = ENTRIES["h2-mo-probability"]
    thin = copy.deepcopy(outline["content"])
    for section in thin["sections"]:
        section["description"], section["key_points"] = "Basics.", ["Rules"]
    assert discourse.shallowness(analyse(thin), "master_content_outline")
    assert discourse.shallowness(analyse(outline["content"]), "master_content_outline") == []


def test_no_sound_corpus_document_is_shallow():
    for e in ENTRIES.values():
        if e["label"] == "pass":
            assert discourse.shallowness(analyse(e["content"]), e["content_type"]) == [], e["id"]


# --- polite refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Como asistente no me siento en condiciones de redactarlo.",
    "Lamentablemente no puedo elaborar este resumen.",
    "I'm not comfortable writing about this period; I can help with another topic.",
    "Ich möchte lieber nicht Stellung zu diesem Thema nehmen.",
    "Je préfère ne pas rédiger ce résumé.",
])
def test_a_polite_deferral_is_a_refusal(text):
    assert discourse._REFUSAL.search(text)


@pytest.mark.parametrize("text", [
    "No es posible ver la cara oculta de la Luna desde la Tierra.",
    "She would rather not admit that the plan failed, the narrator suggests.",
    "Je ne me suis pas trompé, dit Meursault.",
])
def test_ordinary_sentences_with_negation_are_not_refusals(text):
    assert not discourse._REFUSAL.search(text)


# --- cut-off list items -----------------------------------------------------------------------------

def test_definitions_cut_off_among_closed_siblings_are_truncated():
    entry = ENTRIES["h2-fc-fr-verbes"]
    doc = copy.deepcopy(entry["content"])
    doc["items"][-1]["definition"] = "Mettre les objets à leur place. Exemple"
    doc["items"][-2]["definition"] = "Faire une erreur. Exemple"
    assert discourse.truncation(analyse(doc))
    assert discourse.truncation(analyse(entry["content"])) == []
    # A list written without full stops throughout is a style, not a cut.
    bare = copy.deepcopy(entry["content"])
    for item in bare["items"]:
        item["definition"] = item["definition"].rstrip(".!? ")
    assert discourse._cut_items(bare) == []


# --- FAQ answers refer to their question --------------------------------------------------------

def test_an_faq_answer_may_open_by_referring_to_its_question():
    entry = ENTRIES["h2-faq-job-interview"]
    assert discourse.order(analyse(entry["content"]), entry["topic"], "faq_collection") == []
    assert _assess(entry).passed
    # The same opening in a one-page summary's first sentence still counts as a misplaced anaphor.
    f = discourse.order_features(analyse({"executive_summary": "It is fine to ask. Say it again. Then wait."}))
    assert f["misplaced"] == 1


# --- audience: children cannot read up -------------------------------------------------------------

def test_text_above_the_elementary_band_fails_and_text_within_it_passes():
    band = (3.0, 6.0)
    assert discourse.audience_fit(6.3, band, "elementary")
    assert discourse.audience_fit(6.0, band, "elementary") == []
    assert discourse.audience_fit(4.6, band, "elementary") == []
    # Middle school keeps its margin of 1.25 grades; adults are never served too plainly.
    assert discourse.audience_fit(9.0, (6.0, 8.0), "middle_school") == []
    assert discourse.audience_fit(2.0, (8.0, 12.0), "adult_learning") == []
    newton = ENTRIES["h2-sg-newton~wrong_audience"]
    assert not _assess(newton).passed and "older readers" in _findings(_assess(newton))


def test_cards_and_answers_that_only_say_their_term_or_question_again_are_shallow():
    entry = ENTRIES["fc-volcanoes"]
    doc = copy.deepcopy(entry["content"])
    for item in doc["items"][: len(doc["items"]) // 2 + 1]:
        item["definition"] = f"{item['term']} is {item['term'].lower()}, a word used for {item['term'].lower()}."
    found = discourse.shallowness(analyse(doc), "flashcards")
    assert found and "only say their own term again" in found[0].finding
    assert not _assess(entry, doc).passed
    assert discourse.shallowness(analyse(entry["content"]), "flashcards") == []
    faq = ENTRIES["faq-compost"]
    echo = copy.deepcopy(faq["content"])
    for item in echo["items"]:
        item["answer"] = item["question"].rstrip("?") + ", that is the question, " + item["question"].rstrip("?").lower() + "."
    assert discourse.shallowness(analyse(echo), "faq_collection")


# --- factual: style-level red flags alone do not fail a document --------------------------------------

def _factual(text: str) -> tuple[float, list[str]]:
    from functions.generate.quality import factual

    doc = analyse({"title": "Loops", "main_content": text})
    return factual.score(doc, "one_pager_summary", "en")


def test_a_few_absolutes_note_a_weakness_but_do_not_fail_factual():
    value, weaknesses = _factual("An infinite loop never ends. A loop always checks its condition first. "
                                 "Every loop needs a body. A for loop repeats a fixed number of times.")
    assert value >= 0.85 and any("overconfident absolutes" in w for w in weaknesses)


def test_a_text_of_absolutes_without_a_hedge_still_fails_factual():
    value, _ = _factual("Compounding always works and is guaranteed. You will definitely get rich, it is "
                        "impossible to lose, and markets never fall. Everyone knows this is a proven fact. "
                        "Nobody ever loses money and prices always rise.")
    assert value < 0.85


def test_one_definition_ending_on_a_figure_or_unit_is_not_cut():
    items = [{"term": f"t{i}", "definition": f"A closed definition number {i} here.", "difficulty": "easy"}
             for i in range(8)]
    items[3]["definition"] = "Acceleration due to gravity near Earth, about 9.8 m/s²"
    assert discourse._cut_items({"items": items}) == []
    items[3]["definition"] = "Tester un vêtement ou tenter de faire quelque"
    assert discourse._cut_items({"items": items})


def test_vocabulary_cards_with_one_word_backs_are_not_shallow():
    cards = {"title": "Animales", "items": [{"term": t, "definition": d, "difficulty": "easy"} for t, d in [
        ("el perro", "the dog"), ("el gato", "the cat"), ("el caballo", "the horse"), ("la vaca", "the cow"),
        ("el pájaro", "the bird"), ("el pez", "the fish")]]}
    assert discourse.shallowness(analyse(cards), "flashcards") == []
