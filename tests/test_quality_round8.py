"""Issue 20, eighth round: the general causes of heldout7's false rejects, each with text that must pass
and text that must still fail: markers out of place against a passage whose neighbouring sentences
belong together by meaning (`discourse.meaning_cohesion`); a reading without references; and the
requester-directed speech acts of German, French and Spanish drafts."""

from __future__ import annotations

from functions.generate.quality import discourse, factual
from functions.generate.quality.text import analyse

IN_ORDER = ("Water evaporates from oceans and lakes when the sun warms them. The water vapour rises and cools "
            "high in the air. As it cools, the vapour condenses into tiny droplets that form clouds. When the "
            "droplets join and grow heavy, they fall as rain or snow. The rain collects in rivers, which carry it "
            "back to the sea. There the sun warms it again, and the cycle starts over.")
SHUFFLED = ("The rain collects in rivers, which carry it back to the sea. As it cools, the vapour condenses into "
            "tiny droplets that form clouds. There the sun warms it again, and the cycle starts over. Water "
            "evaporates from oceans and lakes when the sun warms them. When the droplets join and grow heavy, "
            "they fall as rain or snow. The water vapour rises and cools high in the air.")


def test_neighbouring_sentences_in_order_belong_together_more_than_shuffled_ones():
    in_order = discourse.meaning_cohesion(analyse({"main_content": IN_ORDER}))
    shuffled = discourse.meaning_cohesion(analyse({"main_content": SHUFFLED}))
    assert in_order is not None and shuffled is not None
    assert in_order > shuffled
    assert in_order == discourse.meaning_cohesion(analyse({"main_content": IN_ORDER}))  # a fixed seed
    assert discourse.meaning_cohesion(analyse({"main_content": "One. Two three."})) is None


def test_markers_out_of_place_fail_unless_the_meaning_holds_together(monkeypatch):
    doc = analyse({"main_content": IN_ORDER})
    signals = {"given": 0, "misplaced": 1, "lead": 1, "ordinal": 0, "years": 0, "back_step": 0, "sections": 0,
               "turns": 0}
    monkeypatch.setattr(discourse, "order_features", lambda *a: signals)
    monkeypatch.setattr(discourse, "meaning_cohesion", lambda d: discourse.COHERENT_Z + 0.5)
    assert discourse.order(doc, "", "podcast_script") == []
    monkeypatch.setattr(discourse, "meaning_cohesion", lambda d: discourse.COHERENT_Z - 0.5)
    assert discourse.order(doc, "", "podcast_script")
    # A section title out of place is deliberate structure: meaning does not excuse it.
    monkeypatch.setattr(discourse, "order_features", lambda *a: {**signals, "sections": 1})
    monkeypatch.setattr(discourse, "meaning_cohesion", lambda d: 9.0)
    assert discourse.order(doc, "", "detailed_reading_material")


def test_a_reading_without_references_is_not_failed_by_it_and_placeholder_references_are():
    body = {"title": "Multiplicar", "introduction": "Multiplicar es sumar muchas veces el mismo número.",
            "sections": [{"title": "Grupos", "content": "Tres grupos de cuatro manzanas son doce manzanas."}],
            "conclusion": "Ya sabes multiplicar."}
    value, weaknesses = factual.score(analyse({**body, "references": []}), "detailed_reading_material", "es")
    assert value >= 0.85 and any("no references" in w for w in weaknesses)
    value, _ = factual.score(analyse({**body, "references": ["[Author], [Title], [Year]", "TBD"]}),
                             "detailed_reading_material", "es")
    assert value < 0.85


def test_a_draft_handed_to_the_requester_is_meta_text_in_german_french_and_spanish():
    for first, last in (("Gerne! Hier ist ein Entwurf für einen Lesetext über die Alpen.",
                         "Lassen Sie mich wissen, ob der Umfang so passt."),
                        ("Voici un brouillon de fiche sur les Alpes.",
                         "Si vous le souhaitez, je peux ajouter des exemples."),
                        ("Aquí tienes un borrador del resumen sobre los Alpes.",
                         "Si quieres, puedo añadir preguntas.")):
        doc = analyse({"introduction": first, "conclusion": last})
        assert [d.kind for d in discourse.refusal(doc)] == ["refusal"], first
        # Meta text in one place alone may be a slip: it takes two.
        assert discourse.refusal(analyse({"introduction": first})) == [], first
    for text in ("Hier ist die Luft dünner, und es wird kälter.", "Voici comment les Alpes se sont formées.",
                 "Aquí tienes que fijarte en los pliegues de las rocas."):
        assert discourse.refusal(analyse({"introduction": text})) == [], text
