"""Redundancy across a list's items: what a schema cannot see.

A schema accepts ten flashcards that say the same thing, an FAQ answer that only
repeats its question and a definition that defines a term by itself; a learner
gets nothing from any of them. Each comparison works on content-word stems, so
"Photosynthesis" and "photosynthesis's" match and function words do not count.
The thresholds were tuned on the labelled corpus (docs/QUALITY.md).
"""

from __future__ import annotations

import re

from functions.generate.quality.text import content_words, stem, words

NEAR_DUPLICATE = 0.8  # Jaccard of two items' content stems at or above which they say the same thing
MIN_ITEM_STEMS = 5  # shorter items (parallel objectives, "Supply: ..." / "Demand: ...") share words by design
RESTATED = 0.6  # share of an answer's content stems already in its question at or above which it restates it
MIN_ANSWER_STEMS = 3  # shorter answers are too short to judge by their words
_CLAUSE_END = re.compile(r"[,;:.!?()\u2013\u2014]")


def _stems(text: str) -> list[str]:
    return [stem(w) for w in content_words(text)]


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def near_duplicates(texts: list[str]) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of items whose content stems overlap at or above NEAR_DUPLICATE."""
    sets = [set(_stems(t)) for t in texts]
    judged = [i for i, s in enumerate(sets) if len(s) >= MIN_ITEM_STEMS]
    # Jaccard <= smaller / larger size, so pairs of very different sizes are skipped unscored.
    return [(i, j) for k, i in enumerate(judged) for j in judged[k + 1:]
            if min(len(sets[i]), len(sets[j])) >= NEAR_DUPLICATE * max(len(sets[i]), len(sets[j]))
            and jaccard(sets[i], sets[j]) >= NEAR_DUPLICATE]


def restated_share(question: str, answer: str) -> float | None:
    """Share of the answer's content stems that are already in the question (None: too short to judge)."""
    answer_stems = set(_stems(answer))
    if len(answer_stems) < MIN_ANSWER_STEMS:
        return None
    return len(answer_stems & set(_stems(question))) / len(answer_stems)


def _after_subject(clause: list[str], term: list[str]) -> list[str]:
    """The clause after a leading "(A/The/Volcanic) <term>": naming the subject first is not circular."""
    n = len(term)
    for k in range(min(3, len(clause) - n + 1)):
        if [stem(w) for w in clause[k:k + n]] == term:
            return clause[k + n:]
    return clause


def repeats_term(term: str, definition: str) -> bool:
    """The definition says nothing but the term, or its defining clause uses the term to define it.

    "A volcano is an opening..." names its subject and is sound; "Osmosis: the process of osmosis"
    and "Magma is magma" are circular. So the term as the clause's subject (within its first three words) is skipped and only the first clause
    is searched: "Whole: the full thing, like a whole pizza" uses the term in an example, later.
    """
    term_stems = _stems(term) or [stem(w) for w in words(term)]
    if not term_stems:
        return False
    if set(_stems(definition)) <= set(term_stems):
        return True
    clause = [w.lower() for w in words(_CLAUSE_END.split(definition.strip(), maxsplit=1)[0])]
    rest = [stem(w) for w in _after_subject(clause, term_stems)]
    n = len(term_stems)
    return any(rest[i:i + n] == term_stems for i in range(len(rest) - n + 1))
