"""Issue 20, sixteenth round, from heldout15's false rejects (and the seen parts'):

- a scenario set up mid-paragraph ("Picture a concrete beam…") that the next sentence carries on is an
  example, not an opening out of place;
- "Zum Schluss" is "finally", a weak closing;
- an elementary unit outline, written for the teacher, keeps the "child's words" excuse up to 2.5
  grades above the band.
Each test of a new behaviour fails on the fifteenth round's scorer (3eb56b9); the guards beside them
show what still fails."""

from __future__ import annotations

from functions.generate.quality import discourse
from functions.generate.quality.text import analyse

_BEAM = ("Concrete is excellent at resisting being squeezed. A typical concrete carries 25 to 40 megapascals in "
         "compression. But it is weak when pulled, and it cracks easily. Picture a concrete beam resting on two "
         "supports with a load in the middle. The beam bends: its top is squeezed and its bottom is stretched. "
         "Without help, cracks would open from the bottom. Steel, unlike concrete, is strong in tension.")


def _misplaced(passage: str, *, first: bool = False, content_type: str = "detailed_reading_material") -> int:
    sentences = analyse({"introduction": passage}).passage_sentences[0]
    return discourse._misplaced(passage, sentences, content_type, first=first)[0]


def test_a_scenario_the_next_sentence_carries_on_is_an_example():
    assert _misplaced(_BEAM) == 0


def test_a_scenario_followed_by_another_subject_is_still_out_of_place():
    shuffled = _BEAM.replace("The beam bends: its top is squeezed and its bottom is stretched. ", "") \
                    .replace("Without help, cracks would open from the bottom. ", "Rebar grips the concrete with ridges. ")
    assert _misplaced(shuffled) == 1
    assert _misplaced("Concrete is strong. It cracks when pulled. Steel is strong in tension. Welcome to the show, "
                      "everyone. Rebar sits near the bottom of a beam.") == 1


def test_zum_schluss_is_a_weak_closing():
    passage = ("Jetzt die Regel. Sie brauchen nur zwei Fragen. Zum Schluss noch ein Beispiel aus einer typischen "
               "Situation. Sie helfen einer Freundin beim Umzug. Sie stellen den Tisch in die Küche. Der Tisch steht "
               "jetzt in der Küche.")
    assert _misplaced(passage, content_type="podcast_script") == 0
    # A summary opening mid-passage stays strong.
    assert _misplaced(passage.replace("Zum Schluss noch", "Zusammenfassend noch"), content_type="podcast_script") == 1


BAND = (3.0, 6.0)


def test_an_elementary_outline_keeps_a_childs_words_up_to_two_and_a_half_grades_past_the_band():
    assert discourse.audience_fit(8.1, BAND, "elementary", polysyllabic=0.085, words_per_sentence=13.6,
                                  untaught_polysyllabic=0.045, window=2.5) == []
    # 3 grades since the eighteenth round (tests/test_quality_round18.py).
    assert set(discourse._CHILDS_WINDOW) == {"master_content_outline"}
    assert discourse._CHILDS_WINDOW["master_content_outline"] >= 2.5


def test_other_types_and_denser_outlines_past_one_and_a_half_grades_still_fail():
    assert discourse.audience_fit(8.1, BAND, "elementary", polysyllabic=0.085, words_per_sentence=13.6,
                                  untaught_polysyllabic=0.045)
    assert discourse.audience_fit(8.4, BAND, "elementary", polysyllabic=0.18, words_per_sentence=11.6,
                                  untaught_polysyllabic=0.14, window=2.5)
    assert discourse.audience_fit(8.6, BAND, "elementary", polysyllabic=0.05, words_per_sentence=10.0,
                                  untaught_polysyllabic=0.04, window=2.5)
