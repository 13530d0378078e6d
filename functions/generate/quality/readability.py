"""Readability fit: a grade level, by formulas made for the text's language, against the audience's band.

- English: mean of Flesch–Kincaid, ARI and Coleman–Liau (US grades), with the coefficients
  textstat uses, from our own counts (sentences from `text.split_sentences`, syllables from the
  CMU dictionary), so no NLTK download can ever be triggered;
- Spanish: Fernández Huerta's reading ease (the Spanish recalibration of Flesch's), converted
  to a US grade with Flesch's own ease-to-grade table;
- German: the first Wiener Sachtextformel (Bamberger and Vanecek), which gives a school grade.
- French: Kandel and Moles' ease (Flesch recalibrated), for screening elementary requests only
  (`SCREENED_LANGUAGES`): it does not score the readability dimension;
- Any other language: not assessed (`score` returns None): English formulas on, say, Italian
  text measure nothing.
Spanish and German syllables come from pyphen's bundled hyphenation patterns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from functions.generate.quality.syllables import syllables, syllables_in
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
    flesch_kincaid: float
    ari: float
    coleman_liau: float

    @property
    def mean(self) -> float:
        return (self.flesch_kincaid + self.ari + self.coleman_liau) / 3


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
    return Grades(n_words, sentence_count, n_syll, fk, ari, cli)


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


# Flesch (1948): reading ease -> US school grade (90-100: 5th, 80-90: 6th, 70-80: 7th, 60-70: 8th-9th,
# 50-60: 10th-12th, 30-50: college, 0-30: college graduate), as points to interpolate between.
_EASE_TO_GRADE = ((100.0, 4.0), (90.0, 5.0), (80.0, 6.0), (70.0, 7.0), (60.0, 8.5), (50.0, 11.0), (30.0, 14.5), (0.0, 18.0))
ASSESSED_LANGUAGES = ("en", "es", "de")
# French has a formula (Kandel and Moles' recalibration of Flesch's ease) but with pyphen's syllables it
# squeezes every French text into grades 4-10 (the corpus's sound college texts read as 4.5-10.3), so it
# does not score the readability dimension; it only tells text for children from text far beyond them
# (fourteenth round: `discourse.audience_of`).
SCREENED_LANGUAGES = ("fr",)


def ease_to_grade(ease: float) -> float:
    if ease >= _EASE_TO_GRADE[0][0]:
        return _EASE_TO_GRADE[0][1]
    for (e_hi, g_hi), (e_lo, g_lo) in zip(_EASE_TO_GRADE, _EASE_TO_GRADE[1:]):
        if ease >= e_lo:
            return g_lo + (g_hi - g_lo) * (ease - e_lo) / (e_hi - e_lo)
    return _EASE_TO_GRADE[-1][1]


def grade_for(doc: Document, lang: str) -> float | None:
    """The grade level of `doc` by `lang`'s formulas; None when too short or no formula exists."""
    if lang == "en":
        g = grades(doc.word_list, len(doc.sentences), doc.word_counts)
        return None if g is None else g.mean
    if lang not in ASSESSED_LANGUAGES + SCREENED_LANGUAGES or doc.word_count < MIN_WORDS or not doc.sentences:
        return None
    counts = Counter(w.lower() for w in doc.word_list)
    n_words, n_sent = doc.word_count, len(doc.sentences)
    per_word = {w: syllables_in(w, lang) for w in counts}
    n_syll = sum(n * per_word[w] for w, n in counts.items())
    wps = n_words / n_sent
    if lang == "es":  # Fernández Huerta (1959), as corrected: 206.84 - 60 syllables/word - 1.02 words/sentence
        return ease_to_grade(206.84 - 60 * n_syll / n_words - 1.02 * wps)
    if lang == "fr":  # Kandel and Moles (1958): 207 - 1.015 words/sentence - 73.6 syllables/word
        return ease_to_grade(207 - 1.015 * wps - 73.6 * n_syll / n_words)
    # de: Wiener Sachtextformel 1: 0.1935 MS + 0.1672 SL + 0.1297 IW - 0.0327 ES - 0.875
    ms = 100 * sum(n for w, n in counts.items() if per_word[w] >= 3) / n_words
    iw = 100 * sum(n for w, n in counts.items() if len(w) > 6) / n_words
    es = 100 * sum(n for w, n in counts.items() if per_word[w] == 1) / n_words
    return 0.1935 * ms + 0.1672 * wps + 0.1297 * iw - 0.0327 * es - 0.875


def score(doc: Document, audience: str, language: str = "en") -> tuple[float | None, list[str], float | None]:
    """(value, weaknesses, grade); value None = not assessed (no formula for this language)."""
    lang = language.split("-", 1)[0].lower()
    if lang not in ASSESSED_LANGUAGES:
        return None, [], None
    band = band_for(audience)
    grade = grade_for(doc, lang)
    if grade is None:
        return 0.0, [f"readability: only {doc.word_count} words of prose; too little text to read or to assess"], None
    wps = doc.word_count / max(1, len(doc.sentences))
    value = band_score(grade, band)
    weaknesses: list[str] = []
    label = audience.replace("_", " ")
    if grade > band[1]:
        weaknesses.append(
            f"readability: grade level {grade:.1f} is above the {label} band ({band[0]:g}-{band[1]:g}); "
            f"use shorter sentences (now {wps:.0f} words on average) and plainer, shorter words"
        )
    elif grade < band[0]:
        weaknesses.append(
            f"readability: grade level {grade:.1f} is below the {label} band ({band[0]:g}-{band[1]:g}); "
            f"write fuller sentences (now {wps:.0f} words on average) with the subject's precise vocabulary"
        )
    return value, weaknesses, grade
