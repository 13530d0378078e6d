"""Integrity: is the text real prose in the requested language, saying each thing once, with nothing left to fill in?

A marker-counting scorer can be fed "For example, imagine photosynthesis purple tuesday violin":
every phrase it rewards is there, and no sentence means anything. So before any marker counts,
three properties of the text itself are measured, language by language (`language.FUNCTION_WORDS`):

- prose: a real sentence is held together by function words (a third to a half of its words) and
  never strings more than a handful of content words in a row; word salad fails both;
- repetition: the share of word 4-grams that repeat one already seen (sound teaching text stays
  under 0.1; a sentence or template pasted again and again goes far above);
- language: the text's function words belong to the requested language;
- placeholders: lorem ipsum, "[insert ...]", "TBD", "content coming soon".

The result, 0..1, multiplies coverage, educational value and engagement in `assess`: nonsense,
repetition, the wrong language or a template cannot score on markers.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from functions.generate.quality import language
from functions.generate.quality.text import WORD_RE, Document, tokens

MIN_SENTENCE_WORDS = 4
MIN_FUNCTION_SHARE = 0.2  # below this a sentence is a list of words, not prose
MAX_CONTENT_RUN = 5  # content words in a row ("carbon dioxide molecules absorb" is 4)
PROSE_FLOOR, PROSE_SPAN = 0.35, 0.3  # share of prose sentences: 0.35 -> 0, 0.65 and above -> 1
REPEAT_FLOOR, REPEAT_SPAN = 0.1, 0.25  # repeated 4-gram share: 0.1 -> 1, 0.35 and above -> 0
WRONG_LANGUAGE_SHARE = 0.15  # another language's function words cover this much of the text
# A lesson of another language (its topic names it) may be mostly in that language, its examples and
# cards, as long as the requested language explains them: its function words at least this share
# (the requested language's translations and notes; a document merely in the taught language has
# under 0.05).
MIN_LESSON_SHARE = 0.08
PLACEHOLDER_FACTOR = 0.3

_BREAKS = frozenset(",;:()[]\u2013\u2014\"")
_WORD_OR_BREAK = re.compile(WORD_RE.pattern + r"|[,;:()\[\]\u2013\u2014\"]")
_PLACEHOLDER = re.compile(
    r"\{\{?\s*[a-z_]+\s*\}\}?|\[(?:insert|add|your|topic|placeholder|todo)[^\]]*\]|lorem ipsum"
    r"|coming soon|goes here|sample text|replace (?:this|with real)|to be written|write this part"
    r"|(?-i:\bTODO\b|\bTBD\b)",  # capitals only: Spanish "todo" is a word
    re.IGNORECASE)


def placeholders(text: str) -> list[str]:
    """Unfilled template text: '{topic}', '[insert example]', 'lorem ipsum', 'TBD', 'coming soon'..."""
    lower = text.lower()
    if not any(k in lower for k in ("{", "[", "lorem", "todo", "tbd", "soon", "goes here", "sample text",
                                     "replace", "to be written", "this part")):
        return []  # the regex costs ~1 ms on a long document; most documents need none of it
    return sorted({m.group(0) for m in _PLACEHOLDER.finditer(text)})


@dataclass(frozen=True)
class Integrity:
    value: float
    prose_share: float | None  # None: the language's function words are unknown
    repeated_share: float
    weaknesses: list[str]


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


# Notation is not words: a formula ("log_b(x) = y", "U_ind = B · l · v", "O(n log n)") is read as
# neither prose nor salad, and a symbol, a figure or a one-letter variable inside a sentence is not a
# content word ("Suppose f(n) = 3n² steps").
_FORMULA = re.compile(r"[=<>\u2260\u2264\u2265\u2248\u00b7\u00d7\u2192^]")
_NOTATION_CHAR = re.compile(r"[\d_]")
# A short line without closing punctuation is a label (an objective, a key point, a heading: "Den
# kleinsten gemeinsamen Nenner bestimmen", "Rank common functions by growth rate"), not a sentence.
MAX_LABEL_WORDS = 8
_CLOSES = re.compile(r"[.!?\u2026]\W*$")


# What a token is to `_sentence_counts`: a break, notation, a function word, or a content word
# (capitalised or not).
_BREAK, _NOTATION, _FUNCTION, _CONTENT, _CAPITALISED = range(5)


def _kind(raw: str, vocab: frozenset[str]) -> int:
    if len(raw) == 1 and raw in _BREAKS:
        return _BREAK
    w = raw.lower().replace("\u2019", "'")
    if w in vocab:
        return _FUNCTION
    if len(w) == 1 or (not w.isalpha() and _NOTATION_CHAR.search(w)):
        return _NOTATION
    return _CAPITALISED if raw[0].isupper() else _CONTENT


def _sentence_counts(sentence: str, vocab: frozenset[str], kinds: dict[str, int]) -> tuple[int, int, int]:
    """(words, function words, longest run of content words) of one sentence, notation left out.

    `kinds`: each token's `_kind` under `vocab`, filled as tokens are met (one per document)."""
    n = function = longest = run = 0
    # A run of content words ends at punctuation ("movable metal type, oil-based ink") and
    # skips capitalised names inside the sentence ("Johannes Gutenberg").
    for raw in _WORD_OR_BREAK.findall(sentence):
        kind = kinds.get(raw)
        if kind is None:
            kind = kinds[raw] = _kind(raw, vocab)
        if kind <= _NOTATION:
            run = 0
            continue
        n += 1
        if kind == _FUNCTION:
            function += 1
            run = 0
        elif n == 1 or kind == _CONTENT:
            run += 1
            longest = max(longest, run)
    return n, function, longest


def _prose_share(doc: Document, vocab: frozenset[str]) -> tuple[float, str | None]:
    checked = prose = 0
    worst: str | None = None
    kinds: dict[str, int] = {}
    for sentence in doc.sentences:
        if _FORMULA.search(sentence) and sum(1 for w in WORD_RE.findall(sentence) if len(w) > 2) < 6:
            continue  # a formula with a few words around it
        n, function, longest = _sentence_counts(sentence, vocab, kinds)
        if n < MIN_SENTENCE_WORDS or (n <= MAX_LABEL_WORDS and not _CLOSES.search(sentence)):
            continue
        checked += 1
        if function / n >= MIN_FUNCTION_SHARE and longest <= MAX_CONTENT_RUN:
            prose += 1
        elif worst is None:
            worst = sentence
    return (prose / checked if checked else 1.0), worst


def _repeated(doc: Document, topic: str) -> tuple[float, str | None]:
    toks = doc.toks
    if len(toks) < 8:
        return 0.0, None
    grams = Counter(zip(toks, toks[1:], toks[2:], toks[3:]))
    # Naming a long topic again and again is not repetition of content: its own 4-grams are skipped.
    named = tokens(topic)
    for gram in zip(named, named[1:], named[2:], named[3:]):
        grams.pop(gram, None)
    if not grams:
        return 0.0, None
    total = len(toks) - 3
    repeats = sum(n - 1 for n in grams.values())
    top, count = grams.most_common(1)[0]
    return repeats / total, (" ".join(top) if count >= 3 else None)


def score(doc: Document, requested: str, topic: str = "") -> Integrity:
    weaknesses: list[str] = []
    code = language.base(requested)
    vocab = language.function_words(code)
    counts = Counter(doc.toks)

    detected, detected_share = language.detect(counts)
    taught = language.taught(topic, requested)
    language_value = 1.0
    if detected is not None and detected != code and detected_share >= WRONG_LANGUAGE_SHARE:
        own_share = language.share_in(counts, code)
        if own_share < detected_share / 2 and not (detected == taught and own_share >= MIN_LESSON_SHARE):
            language_value = 0.0
            weaknesses.append(f"language: the text is written in {language.name(detected)}, "
                              f"not in {language.name(code)} ({requested}) as requested")

    prose_share: float | None = None
    prose_value = 1.0
    if vocab is not None and language_value > 0:
        # In a lesson of another language, its example sentences are prose of that language.
        taught_vocab = language.function_words(taught) if taught else None
        prose_share, example = _prose_share(doc, vocab | taught_vocab if taught_vocab else vocab)
        prose_value = _clamp((prose_share - PROSE_FLOOR) / PROSE_SPAN)
        if prose_value < 1.0 and example:
            weaknesses.append(
                f"coherence: {1 - prose_share:.0%} of the sentences are strings of unrelated words rather than "
                f"statements (e.g. {example[:90]!r}); write sentences that explain the topic")

    repeated_share, phrase = _repeated(doc, topic)
    repeat_value = _clamp(1 - (repeated_share - REPEAT_FLOOR) / REPEAT_SPAN)
    if repeat_value < 1.0:
        shown = f" ({phrase!r} again and again)" if phrase else ""
        weaknesses.append(f"coherence: {repeated_share:.0%} of the text repeats itself{shown}; "
                          "say each thing once and give every part new content")

    value = min(language_value, prose_value, repeat_value)
    found = placeholders("\n".join(doc.passages))
    if found:
        value *= PLACEHOLDER_FACTOR
        weaknesses.insert(0, f"coherence: unfinished template text ({', '.join(found[:3])}); "
                             "write the real content")
    return Integrity(value, prose_share, repeated_share, weaknesses)
