"""Issue 20, fifteenth round, from heldout14's false rejects (and the seen parts'):

- Spanish elementary text just past the band whose vocabulary is a child's (under 6 % of words of four
  syllables or more, the request's own words aside) is not "far above" it;
- middle school: text fails as too hard from three grades above the band (grade 11), not two.
Each test of a new behaviour fails on the fourteenth round's scorer (1c8a23b); the guards beside them
show what still fails."""

from __future__ import annotations

from functions.generate.quality import discourse
from functions.generate.quality.text import analyse

ELEMENTARY, MIDDLE = (3.0, 6.0), (6.0, 8.0)

_CHILD_ES = ("Hace mucho tiempo, los mexicas vivían en una isla en medio de un lago. No tenían mucha tierra para "
             "sembrar. Entonces hicieron islas pequeñas con lodo y plantas. Las llamaron chinampas. En las "
             "chinampas crecían el maíz, el frijol y las flores. Los árboles sujetaban la tierra con sus raíces. "
             "Las familias iban en canoa de una chinampa a otra.")
_ADULT_ES = ("La sostenibilidad agroecológica de las chinampas descansa en la interacción entre la hidrología "
             "lacustre, la acumulación de sedimentos orgánicos y la biodiversidad asociada, cuya productividad "
             "excepcional respondía a una ingeniería hidráulica extraordinariamente sofisticada y a la "
             "reutilización sistemática de nutrientes procedentes de la descomposición vegetal.")


def _spanish(text: str, grade: float) -> list:
    doc = analyse({"title": "Las chinampas", "introduction": text})
    doc.language = "es"
    return discourse.audience_of(doc, grade, ELEMENTARY, "elementary", request="las chinampas de Xochimilco")


def test_spanish_text_just_past_the_elementary_band_in_a_childs_words_passes():
    assert _spanish(_CHILD_ES, 6.5) == []


def test_spanish_text_with_long_words_or_far_past_the_band_still_fails():
    assert _spanish(_ADULT_ES, 6.5)
    assert _spanish(_CHILD_ES, 7.6)  # from 1.5 grades above the band the grade alone decides


def test_middle_school_text_fails_as_too_hard_from_grade_11():
    assert discourse.audience_fit(10.6, MIDDLE, "middle_school", polysyllabic=0.14) == []
    assert discourse.audience_fit(10.9, MIDDLE, "middle_school", polysyllabic=0.16) == []
    assert discourse.audience_fit(11.1, MIDDLE, "middle_school", polysyllabic=0.11)
    assert discourse.audience_fit(14.0, MIDDLE, "middle_school", polysyllabic=0.2)
