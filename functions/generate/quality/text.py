"""Text plumbing shared by the quality dimensions: tokenising, sentence splitting, stemming.

Why our own: the gate must not depend on a download (NLTK's punkt/cmudict) or on
splitting at every "." (a past mistake: "e.g." and "3.5" are not sentence ends),
and it must run in a few milliseconds on a 2,000-word document.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Letters of any script (Spanish "términos" is one word, not "t" + "rminos").
WORD_RE = re.compile(r"[^\W_]+(?:['\u2019][^\W\d_]+)*(?:-[^\W_]+(?:['\u2019][^\W\d_]+)*)*")

# Candidate sentence ends: terminal punctuation, optional closing quotes/brackets,
# then whitespace or the end of the passage. Decimals ("3.5") never match because
# no whitespace follows their point.
_END_RE = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)")
# Words after which a period does not end a sentence (lowercase, without the final dot).
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt vs etc e.g i.e eg ie cf approx fig figs no nos vol
    pp p ed eds al inc ltd co corp dept est govt jan feb mar apr jun jul aug sep sept oct
    nov dec u.s u.k a.m p.m ca min max avg""".split()
)
# Of those, the ones that may still close a sentence when a capital follows.
_MAY_END = frozenset({"etc", "inc", "ltd", "co", "corp", "a.m", "p.m", "al"})
_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]")
_TITLES = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "mt", "sr", "jr", "no", "fig", "figs", "vol", "pp"})


def split_sentences(passage: str) -> list[str]:
    """Split a passage into sentences at ., ! and ? (and line breaks), not at abbreviations or decimals.

    A passage without terminal punctuation (a key point, a list item) is one sentence.
    """
    sentences: list[str] = []
    for line in re.split(r"\n\s*", passage):
        start = 0
        for match in _END_RE.finditer(line):
            end = match.end()
            if match.group().startswith(".") and not _period_ends_sentence(line, match.start(), end):
                continue
            piece = line[start:end].strip()
            if piece:
                sentences.append(piece)
            start = end
        tail = line[start:].strip()
        if tail and WORD_RE.search(tail):
            sentences.append(tail)
    return sentences


def _period_ends_sentence(line: str, dot: int, end: int) -> bool:
    space = max(line.rfind(" ", 0, dot), line.rfind("\t", 0, dot))
    token = line[space + 1: dot].lower().lstrip("(\"'\u201c")
    next_char = line[end:end + 2].lstrip()[:1]  # _END_RE guarantees whitespace or the end after `end`
    if token in _TITLES:
        return False
    if token in _ABBREVIATIONS or token.rstrip(".") in _ABBREVIATIONS:
        bare = token.rstrip(".")
        return bare in _MAY_END and (not next_char or next_char.isupper())
    if len(token) == 1 and token.isalpha() and next_char.isupper():
        return False  # an initial: "J. K. Rowling"
    if "." in token and _ACRONYM.fullmatch(token):
        return not next_char  # "the U.S. Senate": an acronym rarely ends a sentence mid-passage
    # Lowercase continuation after "." is an ellipsis or a typo, not a new sentence.
    return not next_char or not next_char.islower()


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


_SPLIT_TABLE = str.maketrans({c: " " for c in "!\"#$%&()*+,./:;<=>?@[\\]^_`{|}~\u2018\u201c\u201d\u2013\u2014\u2026"})


# An elided article, preposition or pronoun glued to the next word: "L'Étranger", "d'Albert",
# "dell'Impero", "qu'un", "all'Italia". A topic word is looked for without it.
ELISION = re.compile(r"^(?:l|d|qu|j|n|s|c|m|t|dell|all|dall|nell|sull|un|quell)['\u2019](?=\w)", re.I)


def word_set(text: str) -> set[str]:
    """Distinct lowercase words, fast (str.translate + split): for membership tests only. A word
    written with an elision ("l'hameçonnage") is also there without it ("hameçonnage")."""
    lower = text.lower()
    found = {w.strip("'-\u2019") for w in lower.translate(_SPLIT_TABLE).split()} - {""}
    if "'" in lower or "\u2019" in lower:
        found |= {ELISION.sub("", w) for w in found if "'" in w or "\u2019" in w}
    return found


def tokens(text: str) -> list[str]:
    """Lowercase words with typographic apostrophes normalised, for phrase matching."""
    lower = text.lower()
    found = WORD_RE.findall(lower)
    return [w.replace("\u2019", "'") for w in found] if "\u2019" in lower else found


class PhraseSet:
    """Word and phrase markers matched on word tokens in one pass.

    Why not one regex per marker family: on a 2,000-word document each big
    alternation costs ~0.3 ms because the regex engine tries it at every
    character; a dict lookup per token is an order of magnitude cheaper, and
    token matching gives word boundaries for free.
    """

    def __init__(self, phrases: str | list[str]) -> None:
        items = phrases.split("|") if isinstance(phrases, str) else phrases
        self.first: dict[str, list[tuple[str, ...]]] = {}
        for phrase in items:
            toks = tuple(tokens(phrase))
            if toks:
                self.first.setdefault(toks[0], []).append(toks[1:])
        for rests in self.first.values():
            rests.sort(key=len, reverse=True)  # longest phrase first

    def find(self, toks: list[str]) -> list[str]:
        found = []
        first = self.first
        n = len(toks)
        for i, tok in enumerate(toks):
            rests = first.get(tok)
            if rests is None:
                continue
            for rest in rests:
                k = len(rest)
                if i + 1 + k <= n and tuple(toks[i + 1: i + 1 + k]) == rest:
                    found.append(" ".join((tok, *rest)))
                    break
        return found

    def count(self, toks: list[str]) -> int:
        return len(self.find(toks))

    def any(self, text: str) -> bool:
        return bool(self.find(tokens(text)))

    def find_in(self, doc: "Document") -> list[str]:
        """Like find(doc.toks), but only visits the positions of candidate first words."""
        found = []
        toks, n = doc.toks, len(doc.toks)
        for first_word in self.first.keys() & doc.positions.keys():
            rests = self.first[first_word]
            for i in doc.positions[first_word]:
                for rest in rests:
                    k = len(rest)
                    if i + 1 + k <= n and tuple(toks[i + 1: i + 1 + k]) == rest:
                        found.append(" ".join((first_word, *rest)))
                        break
        return found

    def count_in(self, doc: "Document") -> int:
        return len(self.find_in(doc))


# --- stemming ---------------------------------------------------------------------------
# A light suffix stripper (Porter step 1 plus common derivations). Both sides of a
# comparison go through it, so "photosynthesis"/"photosynthetic" or
# "plants"/"planting" meet; it does not need to produce real words.
_SUFFIXES = (
    "izations", "ization", "ational", "fulness", "iveness", "ousness", "ements", "ement",
    "ations", "ation", "itions", "ition", "ities", "ity", "ments", "ment", "ness", "ances",
    "ance", "ences", "ence", "ables", "able", "ibles", "ible", "ingly", "edly", "ings", "ing",
    "ists", "ist", "isms", "ism", "ives", "ive", "ical", "ally", "ful", "ers", "er", "ors",
    "or", "ies", "ied", "ied", "es", "ed", "ly", "al", "ic", "s",
)


@functools.lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.strip("'")
    if len(w) <= 3:
        return w
    for suffix in _SUFFIXES:
        if suffix == "s" and w.endswith(("us", "ss")):
            break  # "octopus", "virus", "class": the s is the word's own ("octopuses" -> "octopus")
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if suffix in ("ies", "ied"):
                w += "y"
            break
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]  # running -> runn -> run
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just let like make many me more most my myself no nor not now of off
    on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up use used using very was we were what when where which while who whom why
    will with would you your yours yourself yourselves able understand learn learning learner
    learners student students know knowing explain describe identify define list discuss
    compare contrast analyze analyse apply evaluate create demonstrate recognize recognise
    summarize summarise outline basic basics introduction intro overview topic guide way ways
    well get give go one two three new different important main key simple role roles
    importance purpose concept concepts idea ideas part parts thing things term terms vocabulary
    glossary facts fundamentals essentials vocabulario""".split()
)


def content_words(text: str) -> list[str]:
    """Words that carry meaning (no stopwords, numbers or instruction verbs)."""
    return [w for w in words(text) if w.lower() not in STOPWORDS and not w.isdigit() and len(w) > 2]


# --- documents --------------------------------------------------------------------------
_TEXT_KEYS = (
    "question", "term", "title", "heading", "name", "prompt", "text", "content", "description",
    "definition", "answer", "explanation", "solution", "example", "key_points", "summary",
)
_LABELS = frozenset({"difficulty", "category", "section_number", "id", "estimated_duration_minutes"})
# Leaves that are labels or metadata rather than prose to read.
_NOT_PROSE = frozenset({"title", "term", "category", "difficulty", "section_number", "references",
                        "estimated_duration_minutes", "heading", "name", "id"})


def as_text(value: Any) -> str:
    """Tolerant text of a field: a string, an object (its obvious text fields first, then any
    other text it holds), or a list of those. Labels such as difficulty or category are skipped."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        keys = [k for k in _TEXT_KEYS if k in value]
        keys += [k for k in value if k not in keys and k not in _LABELS]
        return " ".join(p for p in (as_text(value[k]) for k in keys) if p)
    if isinstance(value, (list, tuple)):
        return " ".join(p for p in (as_text(v) for v in value) if p)
    return ""


def _prose_leaves(value: Any, key: str | None, out: list[str]) -> None:
    if key in _NOT_PROSE:
        return
    if isinstance(value, str):
        if value.strip():
            out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _prose_leaves(v, k, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _prose_leaves(v, key, out)


@dataclass
class Document:
    """One content dict, analysed once and shared by every dimension."""

    content: dict[str, Any]
    passages: list[str]  # prose leaves, each split into sentences separately
    sentences: list[str]
    word_list: list[str]  # words() of the passages, in order
    body: str  # everything but the title and the learning_objectives field
    title: str
    units: list[str]  # sections/items/top-level fields, for "share of units" measures
    lower: str = field(init=False)
    toks: list[str] = field(init=False)
    positions: dict[str, list[int]] = field(init=False)
    word_counts: Counter[str] = field(init=False)
    stems: set[str] = field(init=False)
    stem_prefixes: dict[str, set[str]] = field(init=False)
    word_prefixes: dict[str, set[str]] = field(init=False)
    word_count: int = field(init=False)
    language: str = "en"  # base code of the language the text should be in (set by `assess`)
    passage_sentences: list[list[str]] = field(default_factory=list)  # `sentences`, passage by passage
    # text -> words(text): the passages, the body and the fields are read by several checks.
    word_cache: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.lower = "\n".join(self.passages).lower()
        # ASCII text lowercases letter for letter, so its tokens are its words lowercased: no second regex pass.
        self.toks = [w.lower() for w in self.word_list] if self.lower.isascii() else tokens(self.lower)
        positions: dict[str, list[int]] = {}
        for i, tok in enumerate(self.toks):
            positions.setdefault(tok, []).append(i)
        self.positions = positions
        self.word_counts = Counter(self.word_list)
        self.word_count = len(self.word_list)
        lowered = word_set(self.body) | word_set(self.title)
        self.stems = {stem(w) for w in lowered}
        self.stem_prefixes = _prefix_index(self.stems, 6)
        self.word_prefixes = _prefix_index(lowered, 5)

    def words_of(self, text: str) -> list[str]:
        """`words(text)`, tokenised once per document (the list is shared: do not change it)."""
        found = self.word_cache.get(text)
        if found is None:
            found = self.word_cache[text] = WORD_RE.findall(text)
        return found

    @functools.cached_property
    def sentence_tokens(self) -> list[list[str]]:
        """`tokens()` of each sentence, computed once for the dimensions that read sentence by sentence."""
        return [tokens(s) for s in self.sentences]

    def has_word(self, word: str) -> bool:
        """Whether the document uses this word in some form: the same stem, or a long shared
        beginning that differs only in the ending ("differs"/"difference", "photosynthesis"/"photosynthetic")."""
        s = stem(word)
        if s in self.stems:
            return True
        if len(s) >= 6 and any(
            _common_prefix(s, other) >= max(6, int(0.8 * min(len(s), len(other))))
            for other in self.stem_prefixes.get(s[:6], ())
        ):
            return True
        w = word.lower()
        return len(w) >= 5 and any(
            _common_prefix(w, other) >= max(5, min(len(w), len(other)) - 3)
            for other in self.word_prefixes.get(w[:5], ())
        )


def _prefix_index(items: set[str], size: int) -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for item in items:
        if len(item) >= size:
            index.setdefault(item[:size], set()).add(item)
    return index


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def analyse(content: dict[str, Any]) -> Document:
    passages: list[str] = []
    _prose_leaves(content, None, passages)
    by_passage = [split_sentences(p) for p in passages]
    sentences = [s for split in by_passage for s in split]
    cache = {p: words(p) for p in dict.fromkeys(passages)}
    word_list = [w for p in passages for w in cache[p]]
    title = as_text(content.get("title", ""))
    body = " ".join(as_text(v) for k, v in content.items() if k not in ("title", "learning_objectives"))
    doc = Document(content, passages, sentences, word_list, body, title, _units(content), word_cache=cache)
    doc.passage_sentences = by_passage
    return doc


def _units(content: dict[str, Any]) -> list[str]:
    """Sections, items and top-level fields as texts, for "share of units" measures."""
    units: list[str] = []
    for key, value in content.items():
        if key in ("title", "learning_objectives", "references") or not isinstance(value, (str, list)):
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):
            units.extend(as_text(v) for v in value)
        elif isinstance(value, list) and key in ("questions", "key_concepts", "key_takeaways"):
            units.extend(as_text(v) for v in value)
        else:
            units.append(as_text(value))
    return [u for u in units if u.strip()]
