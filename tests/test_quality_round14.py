"""Issue 20, fourteenth round, from heldout13's false rejects and misses (and the seen parts'):

- years run backwards only within a paragraph: a thematic paragraph starts its own timeline;
- a relative clause without its "which" strands its preposition ("the thing you are saving for");
- a quotation in single quotation marks is shown, not said ("Compare: 'If I was rude, I apologize.'");
- a text about something else: weak coverage of the topic and learning objectives mostly untaught
  (in English, only when the objectives are also far in meaning from every sentence);
- French text for children is screened for text far beyond them (Kandel and Moles' formula).
Each test of a new behaviour fails on the thirteenth round's scorer (f45cc59); the guards beside them
show what still fails."""

from __future__ import annotations

from functions.generate.quality import assess, coverage, discourse
from functions.generate.quality.text import analyse

_TIMELINE = ("Background. In 1969 a new coalition took office in Bonn. It signed a treaty with Moscow in 1970.\n\n"
             "The treaty. The treaty of 1970 recognised the border. Parliament ratified it only in 1972.\n\n"
             "Reactions. In 1970 the press was divided. Brandt won the Nobel Peace Prize in 1971.\n\n"
             "Legacy. In 1970 few foresaw the gesture's fame. A square in Warsaw was named after Brandt in 2000.")


def _years(passage: str) -> float:
    doc = analyse({"title": "The Warsaw genuflection", "main_content": passage})
    doc.language = "en"
    return discourse.order_features(doc, "The Warsaw genuflection", "one_pager_summary")["years"]


def test_thematic_paragraphs_start_their_own_timeline():
    assert _years(_TIMELINE) == 0


def test_years_running_backwards_inside_a_paragraph_still_count():
    one_paragraph = _TIMELINE.replace("\n\n", " ")
    assert _years(one_paragraph) >= 1
    assert _years("In 1972 parliament ratified it. In 1970 the treaty was signed. In 1969 the coalition took office. "
                  "In 1968 students marched. In 1967 a visit ended in violence.") >= 2


def _truncation(text: str) -> list:
    doc = analyse({"title": "Saving", "key_concepts": [text]})
    doc.language = "en"
    return discourse.truncation(doc)


def test_a_relative_clause_without_which_strands_its_preposition():
    assert _truncation("Goal: the thing you are saving for") == []
    assert _truncation("Emergency fund: something you can count on") == []


def test_a_phrase_cut_after_a_preposition_is_still_cut():
    assert _truncation("Goal: the thing that you save money for and then you put it in")  # no subject after the noun
    assert _truncation("Budget: a plan for the money that comes in each month and goes out to")


def _refusal(text: str) -> list:
    doc = analyse({"title": "The English subjunctive", "items": [
        {"question": "Is 'if I was' ever correct?", "answer": text, "category": "Usage"}]})
    doc.language = "en"
    return discourse.refusal(doc)


def test_a_quoted_example_in_single_quotation_marks_is_shown_not_said():
    assert _refusal("Yes, for a real past condition. Compare:\n- 'If I was rude yesterday, I apologize.' (Maybe I "
                    "really was rude.)\n- 'If I were rude to customers, I'd be fired.'") == []


def test_an_apology_outside_quotation_marks_is_still_a_refusal():
    assert _refusal("I'm sorry, but I can't help with grammar questions. Please ask a teacher.")
    # An apostrophe inside single quotation marks ends the match: the apology is still read.
    assert _refusal("'I'm sorry, but I can't help with that.'")


_FRACTIONS = ["Find a common denominator using the least common multiple",
              "Add and subtract fractions and mixed numbers with unlike denominators",
              "Simplify answers and check them with estimation"]
_INTEREST = {"title": "Compound interest", "overview": (
    "Compound interest is interest earned on interest. A bank pays a rate on the balance each year, and the "
    "interest is added to the balance, so next year the rate applies to a larger amount. With 1,000 dollars at "
    "5 percent a year, the balance is 1,050 dollars after one year and 1,102.50 dollars after two. The formula "
    "is A = P(1 + r)^t, where P is the principal, r the yearly rate and t the number of years. Saving early "
    "matters because the growth speeds up over time.")}


def _elsewhere(content: dict, topic: str, objectives: list[str], language: str = "en") -> str | None:
    doc = analyse(content)
    doc.language = language
    return coverage.elsewhere(doc, coverage.score(doc, topic, objectives, "one_pager_summary"), topic)


def test_a_text_about_something_else_with_its_objectives_untaught_fails():
    assert _elsewhere(_INTEREST, "adding and subtracting fractions with unlike denominators", _FRACTIONS)
    report = assess("one_pager_summary", {**_INTEREST, "executive_summary": _INTEREST["overview"],
                                          "key_takeaways": ["Interest on interest", "A = P(1 + r)^t",
                                                            "Start early"], "main_content": _INTEREST["overview"]},
                    topic="adding and subtracting fractions with unlike denominators", audience="middle_school",
                    learning_objectives=_FRACTIONS)
    assert not report.passed
    assert any("something other than" in r["finding"] for r in report.reasons())


def test_a_text_on_its_topic_or_teaching_its_objectives_in_other_words_passes():
    assert _elsewhere(_INTEREST, "compound interest", ["Explain compound interest", "Use the formula A = P(1 + r)^t"]) is None
    octopus = {"title": "How octopuses think", "main_content": (
        "A common octopus has around 500 million neurons, and two thirds of them sit in its arms. Each arm has a "
        "thick cord of nerve cells, so an arm can taste and grab food with little instruction from the brain. In "
        "aquariums, octopuses have learnt to unscrew the lids of jars to reach a crab inside, and some squirt "
        "water at lights that annoy them.")}
    # Neither objective's words are in the text, but their meaning is (English sentence vectors).
    assert _elsewhere(octopus, "How octopuses think", ["Describe how an octopus's nervous system is organised",
                                                        "Give examples of octopus problem solving"]) is None


_CHILD_FR = {"title": "Les saisons", "overview": (
    "Il y a quatre saisons. En hiver, il fait froid. Les arbres n'ont plus de feuilles. Au printemps, les fleurs "
    "poussent. En été, il fait chaud et on va à la plage. En automne, les feuilles tombent. La Terre tourne "
    "autour du Soleil. C'est pour ça que les saisons changent.")}
_ADULT_FR = {"title": "Les saisons", "overview": (
    "L'alternance saisonnière résulte de l'inclinaison de l'axe de rotation terrestre, d'environ 23,4 degrés, "
    "par rapport à la perpendiculaire au plan de l'écliptique, qui module l'incidence du rayonnement solaire et "
    "la durée d'insolation selon la latitude. Contrairement à une idée répandue, la variation de la distance "
    "Terre-Soleil, liée à l'excentricité orbitale, n'exerce qu'une influence marginale sur les températures.")}


def _audience(content: dict, audience: str = "elementary") -> list:
    doc = analyse(content)
    doc.language = "fr"
    return discourse.audience_of(doc, None, (3.0, 6.0), audience, request="les saisons")


def test_french_text_far_beyond_children_fails_for_elementary():
    assert _audience(_ADULT_FR)


def test_french_text_for_children_passes_and_other_audiences_are_not_screened():
    assert _audience(_CHILD_FR) == []
    assert _audience(_ADULT_FR, "middle_school") == []
