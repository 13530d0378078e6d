"""Issue 20, eleventh round: heldout10's flashcard sets defined by contrast ("An open note head with a
stem" / "An open note head with no stem"; two conventions adopted in 1965 and 1979) were read as
contradicting themselves. Each card is a labelled item: its definition says something of its own term.
A claim made twice on one card, or in prose, still contradicts."""

from __future__ import annotations

from functions.generate.quality import consistency
from functions.generate.quality.text import analyse


def _cards(*pairs: tuple[str, str]) -> dict:
    return {"title": "Note values", "items": [{"term": t, "definition": d, "difficulty": "easy"} for t, d in pairs]}


def test_cards_defined_by_contrast_do_not_contradict_each_other():
    cards = _cards(("Half note", "An open (hollow) note head with a stem. It lasts 2 beats."),
                   ("Whole note", "An open note head with no stem. It lasts 4 beats."))
    assert consistency.find(analyse(cards)) == []


def test_one_card_or_prose_saying_a_thing_and_its_opposite_still_contradicts():
    card = _cards(("Veto", "Congress can override a presidential veto with a two-thirds vote in both houses. "
                           "Congress can never override a presidential veto with a two-thirds vote in both houses."))
    assert consistency.find(analyse(card))
    prose = {"main_content": "Congress can override a presidential veto with a two-thirds vote in both houses. "
                             "Congress can never override a presidential veto with a two-thirds vote in both houses."}
    assert consistency.find(analyse(prose))
