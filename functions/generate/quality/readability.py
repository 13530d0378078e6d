"""Readability fit: US grade level (mean of Flesch–Kincaid, ARI, Coleman–Liau) against the audience's band.

The three formulas are computed here from our own counts (sentences from
`text.split_sentences`, syllables from `syllables.syllables`), with the same
coefficients textstat uses, so no NLTK download can ever be triggered and the
sentence count is not fooled by abbreviations or decimals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from functions.generate.quality.syllables import syllables
from functions.generate.quality.text import Document

# REFERENCE.md "Quality assessment": US grade bands per audience.
GRADE_BANDS: dict[str, tuple[float, float]] = {
    "elementary": (3.0, 6.0),
    "middle_school": (6.0, 8.0),
    "high_school": (9.0, 12.0),
    "college": (13.0, 16.0),
    "adult_learning": (8.0, 12.0),
    "general": (8.0, 12.0),
}
MIN_WORDS = 10


@dataclass(frozen=True)
class Grades:
    words: int
    sentences: int
    syllables: int
    letters: int
    flesch_kincaid: float
    ari: float
    coleman_liau: float

    @property
    def mean(self) -> float:
        return (self.flesch_kincaid + self.ari + self.coleman_liau) / 3

    @property
    def words_per_sentence(self) -> float:
        return self.words / self.sentences

    @property
    def syllables_per_word(self) -> float:
        return self.syllables / self.words


def grades(word_list: list[str], sentence_count: int, counts: Counter[str] | None = None) -> Grades | None:
    """The three grade formulas over counted words; None when there is too little text.

    `counts` (word -> occurrences) lets each distinct word be looked up once."""
    n_words = len(word_list)
    if n_words < MIN_WORDS or sentence_count < 1:
        return None
    counts = counts if counts is not None else Counter(word_list)
    n_syll = sum(n * syllables(w) for w, n in counts.items())
    n_letters = sum(n * (len(w) - w.count("'") - w.count("\u2019") - w.count("-")) for w, n in counts.items())
    wps = n_words / sentence_count
    spw = n_syll / n_words
    lpw = n_letters / n_words
    fk = 0.39 * wps + 11.8 * spw - 15.59
    ari = 4.71 * lpw + 0.5 * wps - 21.43
    cli = 0.058 * (lpw * 100) - 0.296 * (sentence_count / n_words * 100) - 15.8
    return Grades(n_words, sentence_count, n_syll, n_letters, fk, ari, cli)


def band_score(grade: float, band: tuple[float, float]) -> float:
    """REFERENCE.md: inside 1.0; too easy max(0.5, 1 - 0.1·d); too hard max(0, 1 - 0.15·d)."""
    low, high = band
    if grade < low:
        return max(0.5, 1 - 0.1 * (low - grade))
    if grade > high:
        return max(0.0, 1 - 0.15 * (grade - high))
    return 1.0


def band_for(audience: str) -> tuple[float, float]:
    return GRADE_BANDS.get(audience, GRADE_BANDS["general"])


def score(doc: Document, audience: str) -> tuple[float, list[str], Grades | None]:
    band = band_for(audience)
    g = grades(doc.word_list, len(doc.sentences), doc.word_counts)
    if g is None:
        return 0.0, [f"readability: only {doc.word_count} words of prose; too little text to read or to assess"], None
    value = band_score(g.mean, band)
    weaknesses: list[str] = []
    label = audience.replace("_", " ")
    if g.mean > band[1]:
        weaknesses.append(
            f"readability: grade level {g.mean:.1f} is above the {label} band ({band[0]:g}-{band[1]:g}); "
            f"use shorter sentences (now {g.words_per_sentence:.0f} words on average) and plainer, shorter words"
        )
    elif g.mean < band[0]:
        weaknesses.append(
            f"readability: grade level {g.mean:.1f} is below the {label} band ({band[0]:g}-{band[1]:g}); "
            f"write fuller sentences (now {g.words_per_sentence:.0f} words on average) with the subject's precise vocabulary"
        )
    return value, weaknesses, g
