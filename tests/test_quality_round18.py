"""Issue 20, eighteenth round, from heldout17's false rejects (and the seen parts'):

- "it" before an infinitive with its own object ("It is easy to find maps that…", "It is useful to
  distinguish two claims") stands for nothing and may open a passage;
- years run backwards only within a line: a list item or a line after a heading starts its own timeline;
- an elementary unit outline keeps the child's-words excuse up to 3 grades above the band.
Each test of a new behaviour fails on the seventeenth round's scorer (fe563c6); the guards beside them
show what still fails."""

from __future__ import annotations

from functions.generate.quality import discourse
from functions.generate.quality.text import analyse


def _opens_on_nothing(passage: str) -> bool:
    sentences = analyse({"introduction": passage}).passage_sentences[0]
    return discourse._refers_to_nothing(sentences[0], "detailed_reading_material", False, "")


def test_it_before_an_infinitive_with_its_own_object_stands_for_nothing():
    assert not _opens_on_nothing("It is easy to find maps that need four colors. Look at Belgium. It borders three.")
    assert not _opens_on_nothing("It is useful to distinguish two claims. The strong one is rejected. The weak one "
                                 "is studied.")


def test_it_that_is_the_thing_still_refers_back():
    assert _opens_on_nothing("It is easy to use in the kitchen. Look at the handle. It folds.")
    assert _opens_on_nothing("It is hard to break it by hand. Look at the fibres. They run lengthwise.")
    assert _opens_on_nothing("It was built in 1890. The tower is iron. Visitors climb it.")


def _years_back(passage: str) -> int:
    sentences = analyse({"detailed_content": passage}).passage_sentences[0]
    return discourse._passage_order(passage, sentences, frozenset(), "study_guide")[3]


_REFORMS = ("Les grandes réformes\n"
            "- Éducation : dès 1961, l'école devient gratuite. En 1964, le gouvernement crée le ministère. Les cégeps "
            "sont créés en 1967.\n"
            "- Économie : en 1962, Lesage déclenche des élections. Hydro-Québec achète en 1963 les compagnies.\n"
            "- Santé : l'assurance-hospitalisation entre en vigueur en 1961. Les hôpitaux passent à l'État.\n"
            "- Droits des femmes : en 1961, Claire Kirkland-Casgrain est élue. Elle fait adopter en 1964 la loi 16.")


def test_each_list_item_starts_its_own_timeline():
    assert _years_back(_REFORMS) == 0


def test_years_running_backwards_within_a_line_still_count():
    assert _years_back(_REFORMS.replace("\n- ", " ")) == 1
    assert _years_back("In 1967 the cégeps open. In 1964 the ministry is created. In 1961 school becomes free. "
                       "In 1960 Lesage wins.") == 2


BAND = (3.0, 6.0)


def test_an_elementary_outline_keeps_a_childs_words_up_to_three_grades_past_the_band():
    assert dict(discourse._CHILDS_WINDOW) == {"master_content_outline": 3.0}
    assert discourse.audience_fit(8.6, BAND, "elementary", polysyllabic=0.108, words_per_sentence=14.8,
                                  untaught_polysyllabic=0.076, window=3.0) == []


def test_a_dense_outline_or_one_past_three_grades_still_fails():
    assert discourse.audience_fit(8.84, BAND, "elementary", polysyllabic=0.2, words_per_sentence=9.8,
                                  untaught_polysyllabic=0.17, window=3.0)
    assert discourse.audience_fit(9.4, BAND, "elementary", polysyllabic=0.09, words_per_sentence=12.0,
                                  untaught_polysyllabic=0.084, window=3.0)
