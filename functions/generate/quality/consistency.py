"""Self-contradiction: two sentences that say the same thing about the same subject, one of them reversed.

A generated document that says the temperature "has risen" in one section and "has fallen" in
another, or that cells "carry the same" information and later "do not carry the same", is wrong
at least once, whatever the facts. We look for pairs of sentences that share most of their
content words (at least 4 shared stems) and differ by an antonym (rise/fall, more/less,
older/younger...; overlap coefficient >= 0.6), or by a negation or one changed figure (Jaccard >= 0.5:
"light cannot escape the event horizon" is not the negation of "there is a boundary called the event
horizon"). Figures contradict only as one claim made twice with one figure changed ("takes about 29.5
days" / "about 14 days"): a calculation claims no single figure, and where several differ the
sentences are a range and an example computed from it or two worked examples of one method (issue
20, fifth round). Contrasts drawn on purpose and labelled items with different labels are not
contradictions. English only: the
negations and antonyms are English words.
"""

from __future__ import annotations

import re
from itertools import combinations

from functions.generate.quality.language import FUNCTION_WORDS
from functions.generate.quality.text import Document, split_sentences, stem

MIN_SHARED = 4
MIN_OVERLAP = 0.6  # shared / the smaller sentence's stems, for an antonym
MIN_JACCARD = 0.5  # shared / all stems of both, for a negation or a changed figure (a stricter test)
MAX_SENTENCES = 400
MAX_SHARING = 12  # bound the pair search on very long documents

# A contrast drawn on purpose comes with a contrast word ("compare", "whereas", "unlike"...) in either
# sentence or just before the first, or sets two quoted examples side by side: "Compare two sentences.
# 'I lived in Madrid' means I don't live there now. 'I have lived...' means I still do."
# "A, not B" sets two things side by side as well ("carried by heterozygotes, not by affected
# individuals"; thirteenth round).
_CONTRAST = re.compile(r"\b(?:compare[ds]?|comparing|whereas|while|unlike|in contrast|on the other hand|the difference|"
                       r"the opposite|opposite(?:ly)?|instead|versus|vs\.?|by contrast|rather than|mirror)\b|, not\b",
                       re.IGNORECASE)
# Two sentences that each open with a condition set out cases ("If no tax is withheld, your pay is
# $277.05." / "If federal tax is withheld, your check will be smaller."; thirteenth round).
_CONDITION = re.compile(r"^\W*(?:if|unless|when|whenever|si|wenn|falls|sofern|cuando|quand|lorsque)\b", re.IGNORECASE)
_BLANK = "__"
_TURN = re.compile(r"^\W*(?:but|however|yet|still|on the other hand|pero|sin embargo|aber|doch|jedoch|mais|cependant|"
                   r"pourtant)\b", re.IGNORECASE)
_NEGATIONS = frozenset("""not no never none neither nor cannot can't don't doesn't didn't isn't aren't wasn't
    weren't won't wouldn't shouldn't couldn't hasn't haven't hadn't""".split())
_AXES = {
    "rise": ("rise", "rises", "rising", "risen", "rose", "increase", "increases", "increased", "increasing",
             "grow", "grows", "grew", "grown"),
    "fall": ("fall", "falls", "falling", "fallen", "fell", "decrease", "decreases", "decreased", "decreasing",
             "shrink", "shrinks", "shrank", "shrunk"),
    "more": ("more", "greater"), "less": ("less", "fewer"),
    "higher": ("higher", "upper", "above"), "lower": ("lower", "below"),
    "larger": ("larger", "bigger"), "smaller": ("smaller",),
    "older": ("older",), "younger": ("younger",),
    "cheaper": ("cheaper", "cheap", "inexpensive"), "expensive": ("expensive", "costlier"),
    "faster": ("faster", "quicker"), "slower": ("slower",),
    "warmer": ("warmer", "hotter"), "cooler": ("cooler", "colder"),
    "same": ("same", "identical"), "different": ("different",),
    "true": ("true",), "false": ("false",),
    "strengthen": ("strengthen", "strengthens", "stronger"), "weaken": ("weaken", "weakens", "weaker"),
}
_OPPOSITE = {"rise": "fall", "more": "less", "higher": "lower", "larger": "smaller", "older": "younger",
             "cheaper": "expensive", "faster": "slower", "warmer": "cooler", "same": "different",
             "true": "false", "strengthen": "weaken"}
_OPPOSITE.update({v: k for k, v in list(_OPPOSITE.items())})
_POLE = {w: axis for axis, forms in _AXES.items() for w in forms}
_ENGLISH = FUNCTION_WORDS["en"]


# A figure as written ("1,200", "29.5"); arithmetic between figures, or an equals sign, makes a calculation.
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CALCULATION = re.compile(r"\d\s*[\u00d7\u00b7*/+\u2212-]\s*\(?\s*[\d\u2212-]|[=\u2248]")


def _profile(sentence: str, toks: list[str]) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """(content stems, stems a negation applies to, figures, antonym poles) of one sentence."""
    stems, poles, negated = set(), set(), set()
    numbers = set() if _CALCULATION.search(sentence) else set(_NUMBER.findall(sentence))
    pending = 0  # content words still to look at after a negation ("do not carry", "never override")
    for w in toks:
        if w in _NEGATIONS:
            pending = 3
            continue
        if pending:
            pending -= 1
            if w not in _ENGLISH and len(w) > 2:
                negated.add(stem(w))
                pending = 0
        if w in _POLE:
            poles.add(_POLE[w])
        elif w not in _ENGLISH and len(w) > 2 and not w.isdigit():
            stems.add(stem(w))
    return frozenset(stems), frozenset(negated), frozenset(numbers), frozenset(poles)


def _differ(a, b, shared: int) -> str | None:
    stems_a, neg_a, num_a, pole_a = a
    stems_b, neg_b, num_b, pole_b = b
    if shared / min(len(stems_a), len(stems_b)) >= MIN_OVERLAP and any(
            _OPPOSITE[p] in pole_b and p not in pole_b for p in pole_a):
        return "antonym"
    if shared / len(stems_a | stems_b) < MIN_JACCARD:
        return None
    # A negation counts only when what it negates is said, un-negated, in the other sentence:
    # "cells do not carry the same information" vs "cells carry the same information".
    if (neg_a - neg_b) & stems_b or (neg_b - neg_a) & stems_a:
        return "negation"
    if len(num_a - num_b) == 1 and len(num_b - num_a) == 1:
        return "numbers"
    return None


_QUOTED = re.compile(r"['\u2018\"\u201c][^'\u2019\"\u201d]{3,}['\u2019\"\u201d]")


# A short label before a colon names what the sentence is about ("Type I error: ...", "Myth: ...").
_LABEL = re.compile(r"^\W*([^:.!?]{1,40}):\s")


def _contrasted(sentences: list[str], i: int, j: int) -> bool:
    """A contrast drawn on purpose, two cases each under its own condition, two quoted examples side by
    side, or two labelled items (a definition list: "Type I error: rejecting a true H0" / "Type II
    error: failing to reject a false H0") whose labels differ: each says something of its own subject."""
    label_i, label_j = _LABEL.match(sentences[i]), _LABEL.match(sentences[j])
    if label_i and label_j and label_i.group(1).strip().lower() != label_j.group(1).strip().lower():
        return True
    if any(_CONTRAST.search(s) for s in (sentences[i], sentences[j], sentences[i - 1] if i else "")):
        return True
    # A turn within a few sentences ("... moving clocks run slow. But higher up, clocks run fast.")
    if j - i <= 2 and _TURN.match(sentences[j]):
        return True
    if _CONDITION.match(sentences[i]) and _CONDITION.match(sentences[j]):
        return True
    return bool(_QUOTED.search(sentences[i]) and _QUOTED.search(sentences[j]))


def _card_of(doc: Document) -> dict[str, int]:
    """A flashcard set's sentences -> the card they define (eleventh round). Cards are labelled items
    too: "An open note head with a stem." (half note) and "An open note head with no stem." (whole note)
    each say something of their own term."""
    items = doc.content.get("items")
    if not isinstance(items, list):
        return {}
    return {s: n for n, item in enumerate(items) if isinstance(item, dict) and "term" in item
            for s in split_sentences(str(item.get("definition", "")))}


def _other_cards(cards: dict[str, int], a: str, b: str) -> bool:
    return a in cards and b in cards and cards[a] != cards[b]


# Fields whose sentences are asked or set, not asserted (twelfth round): a learning objective
# ("Distinguish independent events from mutually exclusive events"), an exercise ("Write a quadratic
# equation in standard form"), a question ("Is it true that protein builds muscle on its own?").
_TASK_FIELDS = ("learning_objectives", "practice_exercises", "assessment_questions", "questions")


def _tasks(doc: Document) -> set[str]:
    """The sentences of `doc` that set a task or ask a question rather than claim something."""
    texts = [str(v) for key in _TASK_FIELDS if isinstance(doc.content.get(key), list) for v in doc.content[key]]
    items = doc.content.get("items")
    if isinstance(items, list):
        texts += [str(item["question"]) for item in items if isinstance(item, dict) and "question" in item]
    return {s for text in texts for s in split_sentences(text)}


def find(doc: Document, limit: int = 3) -> list[tuple[str, str]]:
    """Up to `limit` pairs of claims (first, later) that contradict each other."""
    tasks = _tasks(doc)
    first: dict[str, list[str]] = {}  # each sentence once, with its tokens
    for s, toks in zip(doc.sentences, doc.sentence_tokens):
        if _BLANK not in s:  # an exercise item ("No creo que Ana ___ (saber)") claims nothing
            first.setdefault(s, toks)
    sentences = list(first)[:MAX_SENTENCES]
    # A task or a question claims nothing either, but its words count towards how common a word is.
    claims = [s not in tasks and not s.rstrip().endswith("?") for s in sentences]
    cards = _card_of(doc)
    profiles = [_profile(s, first[s]) for s in sentences]
    index: dict[str, list[int]] = {}
    for i, (stems, *_rest) in enumerate(profiles):
        for s in stems:
            index.setdefault(s, []).append(i)
    shared: dict[tuple[int, int], int] = {}
    for ids in index.values():
        if len(ids) > MAX_SHARING:  # a word in many sentences (the topic) says nothing about a pair
            continue
        for pair in combinations(ids, 2):
            shared[pair] = shared.get(pair, 0) + 1
    found: list[tuple[str, str]] = []
    for (i, j), n in sorted(shared.items()):
        if n < MIN_SHARED or not (claims[i] and claims[j]):
            continue
        if (_differ(profiles[i], profiles[j], n) and not _contrasted(sentences, i, j)
                and not _other_cards(cards, sentences[i], sentences[j])):
            found.append((sentences[i], sentences[j]))
            if len(found) >= limit:
                break
    return found
