"""Educational value (objectives, examples, explanation, practice, assessment, higher-order thinking)
and engagement (questions, direct address, vivid examples, activities, variety).

Each dimension is a weighted mean of signal scores, with weights per content
type: a flashcard deck is not expected to address the reader like a podcast,
and a FAQ is not expected to state learning objectives. Every signal is
measured from the text and can score 0.
"""

from __future__ import annotations

import re
import statistics
from typing import Any, Callable

from functions.generate.quality.text import Document, PhraseSet, as_text, words

def _expand(template: str, *choices: str) -> str:
    """'you will {0}' with 'learn|know' -> 'you will learn|you will know'."""
    return "|".join(template.format(c) for c in "|".join(choices).split("|"))


_EXAMPLE = PhraseSet(
    "for example|for instance|such as|e.g.|imagine|consider|picture this|to illustrate|an example|"
    "a good example|case study|suppose|let's say|like when|think of|take the case"
)
_EXPLAIN = PhraseSet(
    "because|therefore|so that|this means|which means|that means|as a result|that is why|that's why|"
    "in other words|the reason|lead to|leads to|led to|result in|results in|due to|thus|this is how|"
    "this is why|which is why|so the|cause|causes|allow|allows|help|helps|depend on|depends on|"
    "consequently|hence|accordingly"
)
_PRACTICE = PhraseSet(
    "try|practice|practise|exercise|exercises|activity|activities|draw|write|sketch|calculate|solve|"
    "build|make a|experiment|observe|measure|sort|match|role-play|discuss|label|plan|design|compare|"
    "list|record|test it|work out"
)
_ASSESS = PhraseSet(
    "quiz|check your understanding|self-check|test yourself|review question|review questions|"
    "ask yourself|can you|explain why|recap"
)
_OBJECTIVE_STATEMENT = PhraseSet(
    "by the end|should be able to|learning objective|learning objectives|aim to|aims to|"
    + _expand("you will {0}", "be able to|learn|know|discover|see|find out") + "|"
    + _expand("you'll {0}", "be able to|learn|know|discover|see|find out") + "|"
    + _expand("{0} goal is to", "our|the|your") + "|goal will be to|objective is to|objectives are to|"
    + _expand("{0} of this", "goal|goals|aim") + "|" + _expand("{0} for this", "goal|goals") + "|"
    + _expand("we will {0}", "learn|explore|look at|cover|see") + "|"
    + _expand("we'll {0}", "learn|explore|look at|cover|see") + "|"
    + _expand("in this {0} you", "episode|lesson|guide|unit|section|reading|page|summary") + "|"
    + _expand("in this {0} we", "episode|lesson|guide|unit|section|reading|page|summary") + "|"
    + _expand("this {0} covers", "guide|page|reading|episode") + "|"
    + _expand("this {0} explains", "guide|page|reading|episode")
)
_BLOOM = frozenset(
    """identify describe explain compare contrast classify apply analyze analyse evaluate create design
    calculate predict summarize summarise demonstrate justify interpret distinguish construct solve use
    list name define recall recognize recognise illustrate examine assess argue plan investigate relate
    outline discuss measure test label locate sequence order explore model estimate critique develop
    differentiate formulate propose state give show draw write build observe choose decide""".split()
)
_HIGHER_ORDER = PhraseSet(
    "why|" + _expand("how {0}", "does|do|did|would|could|might|can|is|are") + "|what would happen|what if|"
    "compare|contrast|evaluate|justify|predict|explain|analyze|analyse|design|in your own words|"
    "do you think|what might|which is better|argue|critique|what evidence|relate|connect"
)
_DIRECT = PhraseSet("you|your|you're|you'll|you've|yourself|let's|let us|we|we'll|we're|our|us")
_VIVID = PhraseSet(
    "imagine|picture|story|stories|like a|just like|think of|think about|real-life|real life|real-world|"
    "real world|everyday|every day|did you know|surprising|fun fact|for example|for instance|"
    "remember when|at home|in your kitchen|in your town|on a farm|at school|in the park|tip|mnemonic|trick"
)
_ANCHOR = PhraseSet(
    "the text|the reading|the author|the passage|the chapter|the article|the section|the book|"
    "the story|the writer|evidence|quote|paragraph"
)
_QUESTION_OPENER = re.compile(r"^\W*(\w+)")


def _sat(value: float, target: float) -> float:
    """Saturating ratio: value/target capped at 1 (0 when target is unreachable)."""
    return min(1.0, value / target) if target > 0 else 0.0


def _texts(value: Any) -> list[str]:
    if isinstance(value, list):
        return [as_text(v) for v in value if as_text(v).strip()]
    text = as_text(value)
    return [text] if text.strip() else []


def _questions(doc: Document) -> list[str]:
    ct = doc.content
    qs = _texts(ct.get("questions")) + _texts(ct.get("assessment_questions"))
    qs += [as_text(i.get("question")) for i in ct.get("items", []) if isinstance(i, dict) and i.get("question")] \
        if isinstance(ct.get("items"), list) else []
    return [q for q in qs if q.strip()]


# --- educational value signals ----------------------------------------------------------------


def _objectives(doc: Document) -> tuple[float, str]:
    listed = _texts(doc.content.get("learning_objectives"))
    if listed:
        measurable = sum(1 for o in listed if {w.lower() for w in words(o)[:4]} & _BLOOM)
        value = 0.5 * _sat(len(listed), 3) + 0.5 * measurable / len(listed)
        return value, "learning objectives should each start with a measurable verb (explain, compare, calculate...)"
    stated = _OBJECTIVE_STATEMENT.find_in(doc)
    return (1.0 if stated else 0.0), "never tells the learner what they will be able to do (e.g. 'By the end, you will be able to...')"


def _examples_target(doc: Document) -> float:
    return max(2.0, min(6.0, doc.word_count / 250))


def _examples(doc: Document) -> tuple[float, str]:
    n = _EXAMPLE.count_in(doc)
    target = _examples_target(doc)
    return _sat(n, target), f"has {n} concrete examples (for example, such as, imagine); aim for at least {target:.0f}"


def _explanation(doc: Document) -> tuple[float, str]:
    n = _EXPLAIN.count_in(doc)
    rate = n * 100 / max(doc.word_count, 1)
    return _sat(rate, 1.2), "states facts without explaining them; say why and how (because, this means, as a result)"


def _practice(doc: Document) -> tuple[float, str]:
    exercises = _texts(doc.content.get("practice_exercises"))
    if "practice_exercises" in doc.content:
        active = sum(1 for e in exercises if _PRACTICE.any(e) or "?" in e)
        return 0.5 * _sat(len(exercises), 3) + 0.5 * (active / len(exercises) if exercises else 0.0), \
            "practice exercises should ask the learner to do something (solve, draw, write, compare)"
    n = _PRACTICE.count_in(doc)
    return _sat(n, max(2.0, doc.word_count / 400)), "gives the learner nothing to do; add a short activity or exercise (try, draw, list, solve)"


def _assessment(doc: Document) -> tuple[float, str]:
    if "assessment_questions" in doc.content:
        qs = _texts(doc.content.get("assessment_questions"))
        return _sat(len(qs), 5), "needs at least 5 assessment questions that check understanding"
    n = sum(1 for s in doc.sentences if s.rstrip().endswith("?")) + _ASSESS.count_in(doc)
    return _sat(n, 3), "never checks understanding; add questions the learner should be able to answer"


def _higher_order(doc: Document) -> tuple[float, str]:
    qs = _questions(doc)
    if len(qs) >= 3:
        share = sum(1 for q in qs if _HIGHER_ORDER.any(q)) / len(qs)
        return _sat(share, 0.5), "questions only ask for recall; ask why/how, to compare, predict or apply"
    n = _HIGHER_ORDER.count_in(doc)
    return _sat(n, 3), "does not ask the learner to reason (why, how, compare, predict, apply)"


def _definitions(doc: Document) -> tuple[float, str]:
    items = [i for i in doc.content.get("items", []) if isinstance(i, dict)] if isinstance(doc.content.get("items"), list) else []
    if not items:
        return 0.0, "has no definitions"
    good = 0
    for item in items:
        term = as_text(item.get("term")).lower().strip()
        definition = as_text(item.get("definition")).lower()
        if len(words(definition)) >= 6 and not (term and definition.startswith(term) and len(words(definition)) < 10):
            good += 1
    return good / len(items), "definitions are too thin; explain each term in a full sentence, not by repeating it"


def _difficulty_mix(doc: Document) -> tuple[float, str]:
    items = doc.content.get("items") if isinstance(doc.content.get("items"), list) else []
    levels = {i.get("difficulty") for i in items if isinstance(i, dict)} & {"easy", "medium", "hard"}
    return len(levels) / 3, "all cards have the same difficulty; mix easy, medium and hard"


def _anchoring(doc: Document) -> tuple[float, str]:
    qs = _questions(doc)
    share = sum(1 for q in qs if _ANCHOR.any(q)) / len(qs) if qs else 0.0
    return _sat(share, 0.4), "questions should send the reader back to the text (the author, the passage, evidence)"


Signal = Callable[[Document], tuple[float, str]]
_EDU_SIGNALS: dict[str, Signal] = {
    "objectives": _objectives, "examples": _examples, "explanation": _explanation, "practice": _practice,
    "assessment": _assessment, "higher_order": _higher_order, "definitions": _definitions,
    "difficulty_mix": _difficulty_mix, "anchoring": _anchoring,
}
EDUCATIONAL_WEIGHTS: dict[str, dict[str, float]] = {
    "master_content_outline": {"objectives": .25, "examples": .15, "explanation": .15, "practice": .15, "assessment": .15, "higher_order": .15},
    "podcast_script": {"objectives": .15, "examples": .25, "explanation": .25, "practice": .1, "assessment": .1, "higher_order": .15},
    "study_guide": {"objectives": .2, "examples": .15, "explanation": .15, "practice": .2, "assessment": .2, "higher_order": .1},
    "one_pager_summary": {"objectives": .1, "examples": .3, "explanation": .35, "practice": .1, "higher_order": .15},
    "detailed_reading_material": {"objectives": .1, "examples": .25, "explanation": .3, "practice": .1, "assessment": .1, "higher_order": .15},
    "faq_collection": {"examples": .3, "explanation": .45, "higher_order": .25},
    "flashcards": {"definitions": .4, "examples": .3, "difficulty_mix": .3},
    "reading_guide_questions": {"higher_order": .5, "anchoring": .3, "assessment": .2},
}

# --- engagement signals --------------------------------------------------------------------------


def _eng_questions(doc: Document) -> tuple[float, str]:
    n = sum(1 for s in doc.sentences if s.rstrip().endswith("?"))
    target = max(2.0, len(doc.units) / 3)
    return _sat(n, target), f"asks the learner {n} questions; add at least {target:.0f} that make them think"


def _direct(doc: Document) -> tuple[float, str]:
    rate = _DIRECT.count_in(doc) * 100 / max(doc.word_count, 1)
    return _sat(rate, 2.0), "never speaks to the learner; address them directly (you, let's)"


def _vivid(doc: Document) -> tuple[float, str]:
    n = _VIVID.count_in(doc)
    return _sat(n, max(2.0, doc.word_count / 300)), "is abstract; add everyday examples, images or stories (imagine, think of, real-life)"


def _activities(doc: Document) -> tuple[float, str]:
    n = _PRACTICE.count_in(doc)
    return _sat(n, max(2.0, doc.word_count / 400)), "has no activity; invite the learner to try, draw, list or discuss something"


def _variety(doc: Document) -> tuple[float, str]:
    lengths = [len(s.split()) for s in doc.sentences]
    if len(lengths) < 3:
        return 0.0, "too few sentences to vary"
    mean = statistics.fmean(lengths)
    cv = statistics.pstdev(lengths) / mean if mean else 0.0
    return _sat(cv, 0.35), "sentences all have the same length and shape; vary them"


def _opener_variety(doc: Document) -> tuple[float, str]:
    qs = _questions(doc)
    if not qs:
        return 0.0, "has no questions"
    openers = {m.group(1).lower() for q in qs if (m := _QUESTION_OPENER.match(q))}
    return _sat(len(openers) / len(qs), 0.5), "questions all start the same way; vary them (why, how, what if, in your view)"


_ENG_SIGNALS: dict[str, Signal] = {
    "questions": _eng_questions, "direct_address": _direct, "vivid": _vivid, "activities": _activities,
    "variety": _variety, "opener_variety": _opener_variety, "difficulty_mix": _difficulty_mix,
}
_ENG_DEFAULT = {"questions": .25, "direct_address": .25, "vivid": .2, "activities": .15, "variety": .15}
ENGAGEMENT_WEIGHTS: dict[str, dict[str, float]] = {
    "master_content_outline": _ENG_DEFAULT,
    "podcast_script": _ENG_DEFAULT,
    "study_guide": _ENG_DEFAULT,
    "one_pager_summary": {"questions": .15, "direct_address": .3, "vivid": .3, "activities": .1, "variety": .15},
    "detailed_reading_material": _ENG_DEFAULT,
    "faq_collection": {"direct_address": .35, "vivid": .25, "activities": .2, "variety": .2},
    "flashcards": {"vivid": .35, "difficulty_mix": .35, "direct_address": .15, "variety": .15},
    "reading_guide_questions": {"direct_address": .4, "opener_variety": .3, "vivid": .3},
}


def _weighted(doc: Document, weights: dict[str, float], signals: dict[str, Signal], label: str) -> tuple[float, list[str]]:
    total = sum(weights.values())
    value = 0.0
    misses: list[tuple[float, str]] = []
    for name, weight in weights.items():
        signal_value, advice = signals[name](doc)
        value += weight * signal_value
        if signal_value < 0.6:
            misses.append((weight * (1 - signal_value), advice))
    misses.sort(key=lambda m: -m[0])
    return value / total, [f"{label}: {advice}" for _, advice in misses]


def educational_value(doc: Document, content_type: str) -> tuple[float, list[str]]:
    weights = EDUCATIONAL_WEIGHTS.get(content_type, EDUCATIONAL_WEIGHTS["study_guide"])
    return _weighted(doc, weights, _EDU_SIGNALS, "educational_value")


def engagement(doc: Document, content_type: str) -> tuple[float, list[str]]:
    weights = ENGAGEMENT_WEIGHTS.get(content_type, _ENG_DEFAULT)
    return _weighted(doc, weights, _ENG_SIGNALS, "engagement")
