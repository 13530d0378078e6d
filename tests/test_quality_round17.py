"""Issue 20, seventeenth round, from heldout16's false rejects (and the seen parts'):

- "more" as the object of a pronoun's verb ends a phrase ("when it goes down, they buy more");
- "building on" is a back reference only with what it builds on ("building on what you learned"), not a
  history's "Lönnrot was building on earlier collectors";
- a section may open against the section before it ("Sin embargo, …", "However, …").
Each test of a new behaviour fails on the sixteenth round's scorer (c61d67f); the guards beside them
show what still fails."""

from __future__ import annotations

from functions.generate.quality import discourse
from functions.generate.quality.text import analyse


def _cut(text: str) -> list:
    doc = analyse({"key_concepts": [text]})
    doc.language = "en"
    return discourse.truncation(doc)


def test_more_as_the_object_of_a_verb_ends_a_phrase():
    assert _cut("Law of demand: when the price goes up, people buy less; when it goes down, they buy more") == []
    assert _cut("Reading: the more you read, the easier it is to read more") == []


def test_more_after_a_form_of_be_or_an_article_is_still_cut():
    assert _cut("Supply: when the price rises, the quantity offered is more")
    assert _cut("Surplus: sellers offer a more")
    assert _cut("Shortage: when buyers want the")


def _first_section(content: str, *later: str) -> tuple[int, int]:
    titles = ["Collectors", "The editions", "The metre"]
    return discourse._section_order([{"title": t, "content": c}
                                     for t, c in zip(titles, [content, *later, "Trochaic tetrameter.", "Four feet."])])


def test_building_on_in_a_narrative_is_no_back_reference():
    assert _first_section("Elias Lönnrot collected songs in Karelia. Lönnrot was building on earlier collectors "
                          "and on a Romantic conviction.") == (0, 0)


def test_a_first_section_building_on_earlier_lessons_is_still_out_of_place():
    assert _first_section("Building on what you learned about runo-song, we now compare the two editions.") == (1, 0)
    assert _first_section("This section is building on the previous lesson on metre.") == (1, 0)
    assert _first_section("Now that you know the metre, read the editions side by side.") == (1, 0)


_NARCOLEPSY = ("Sin embargo, la mayoría de los pacientes humanos no tiene mutaciones en estos genes. En 2000, dos "
               "estudios de cerebros post mortem mostraron una pérdida casi total de las neuronas de orexina. Esta "
               "pérdida tan selectiva apuntaba a un proceso destructivo. Al mismo tiempo se comprobó que la "
               "hipocretina-1 es indetectable en el líquido cefalorraquídeo.")


def _opening_refers_to_nothing(passage: str, heading: str) -> bool:
    sentences = analyse({"introduction": passage}).passage_sentences[0]
    return discourse._refers_to_nothing(sentences[0], "detailed_reading_material", False, heading)


def test_a_section_may_open_against_the_one_before():
    assert not _opening_refers_to_nothing(_NARCOLEPSY, "La pérdida de neuronas en humanos")
    assert not _opening_refers_to_nothing("However, most patients carry no such mutation. Brains show the loss. "
                                          "It is selective.", "Neurons lost in humans")


def test_a_passage_without_a_heading_or_opening_on_a_pronoun_still_refers_to_nothing():
    assert _opening_refers_to_nothing(_NARCOLEPSY, "")
    assert _opening_refers_to_nothing("Esta pérdida tan selectiva apuntaba a un proceso destructivo. En 2000, dos "
                                      "estudios lo mostraron. Nadie lo esperaba.", "Un proceso autoinmune")
    assert _opening_refers_to_nothing("They carry no such mutation. Brains show the loss. It is selective.",
                                      "Neurons lost in humans")
