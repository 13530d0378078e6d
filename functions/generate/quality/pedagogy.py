"""Educational value (objectives, examples, explanation, practice, assessment, higher-order thinking)
and engagement (questions, direct address, vivid examples, activities, variety).

Each dimension is a weighted mean of signal scores, with weights per content
type: a flashcard deck is not expected to address the reader like a podcast,
and a FAQ is not expected to state learning objectives. Every signal is
measured from the text and can score 0. Signals read phrases of the document's
language (English, Spanish, German, French); a signal with no phrases for the
language is left out of the mean rather than scored 0. These are signals of
teaching only in real prose: `assess` multiplies both dimensions by the text's
integrity (`coherence`), so markers strung into nonsense count for nothing.
"""

from __future__ import annotations

import re
import statistics
from typing import Any, Callable

from functions.generate.quality.language import OBJECTIVE_VERBS
from functions.generate.quality.text import Document, PhraseSet, as_text, words


def _expand(template: str, *choices: str) -> str:
    """'you will {0}' with 'learn|know' -> 'you will learn|you will know'."""
    return "|".join(template.format(c) for c in "|".join(choices).split("|"))


_EXAMPLE = PhraseSet(
    "for example|for instance|such as|e.g.|imagine|consider|picture this|to illustrate|an example|"
    "a good example|case study|suppose|let's say|like when|think of|take the case|like a|much like|"
    "including|say you|if you|when you|a typical|in practice|example|examples|like"
)
_EXPLAIN = PhraseSet(
    "because|therefore|so that|this means|which means|that means|as a result|that is why|that's why|"
    "in other words|the reason|lead to|leads to|led to|result in|results in|due to|thus|this is how|"
    "this is why|which is why|so the|cause|causes|allow|allows|help|helps|depend on|depends on|"
    "consequently|hence|accordingly|since|so|means|in order to|makes|produces|drives|explains|"
    "if|when|then|why|how|instead"
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
_BLOOM = OBJECTIVE_VERBS
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

# The same signals in other languages (the English sets above are the reference).
_OTHER_LANGUAGES: dict[str, dict[str, str]] = {
    "es": {
        "example": "por ejemplo|ejemplo|como|imagina|imagine|piensa en|supongamos|tal como|es decir|pongamos",
        "explain": "porque|por eso|por lo tanto|así que|ya que|debido a|es decir|esto significa|de modo que|"
                   "hace que|permite|permitía|permitían|si|cuando|para que|por qué|cómo|para|gracias a|por ello|"
                   "de ahí|se debe a|consecuencia|provoca|provocó|por esa razón",
        "higher_order": "por qué|cómo|qué pasaría|compara|explica|qué crees|qué piensas|cuál|puedes pensar",
        "direct": "tú|tu|te|ti|puedes|piensa|prueba|nosotros|nuestro|usted|tus",
        "anchor": "el texto|el autor|la autora|la lectura|el pasaje|el capítulo|la novela|el relato",
        "vivid": "imagina|piensa en|por ejemplo|cerca de tu casa|en casa|en la vida real|cada día",
        "practice": "prueba|dibuja|escribe|haz una lista|busca|compara|observa|mide|calcula",
        "assess": "comprueba|repasa|puedes explicar",
        "objective": "aprenderás|podrás|al final|el objetivo",
    },
    "de": {
        "example": "zum beispiel|beispiel|z.b.|etwa|wie|stell dir vor|angenommen|beispielsweise",
        "explain": "weil|denn|deshalb|daher|also|dadurch|das bedeutet|sodass|damit|wenn|dass|warum|wie",
        "higher_order": "warum|wie|was würde|vergleiche|erkläre|deutest|bedeuten|welche|was sagt",
        "direct": "du|dich|dir|dein|deine|wir|uns|unser",
        "anchor": "text|textstelle|textstellen|der autor|die erzählung|das kapitel|der roman|erzählung",
        "vivid": "stell dir vor|zum beispiel|im alltag|zu hause",
        "practice": "zeichne|schreibe|liste|vergleiche|beobachte|miss|berechne|versuche",
        "assess": "überprüfe|wiederhole",
        "objective": "du lernst|am ende|ziel ist",
    },
    "fr": {
        "example": "par exemple|exemple|comme|imagine|imaginez|supposons|tel que|c'est-à-dire",
        "explain": "parce que|car|donc|ainsi|c'est pourquoi|grâce à|cela signifie|si|quand|afin de|pourquoi|comment",
        "higher_order": "pourquoi|comment|que se passerait|compare|explique|qu'en penses|quel|quelle",
        "direct": "tu|te|toi|ton|ta|vous|votre|nous|notre",
        "anchor": "le texte|l'auteur|le passage|le chapitre|le roman|le récit",
        "vivid": "imagine|par exemple|dans la vie|à la maison|chaque jour",
        "practice": "essaie|dessine|écris|fais une liste|compare|observe|mesure|calcule",
        "assess": "vérifie|révise",
        "objective": "tu apprendras|à la fin|l'objectif",
    },
}
_ENGLISH_SETS = {"example": _EXAMPLE, "explain": _EXPLAIN, "higher_order": _HIGHER_ORDER, "direct": _DIRECT,
                 "anchor": _ANCHOR, "vivid": _VIVID, "practice": _PRACTICE, "assess": _ASSESS,
                 "objective": _OBJECTIVE_STATEMENT}
_compiled: dict[tuple[str, str], PhraseSet] = {}


def _set(kind: str, doc: Document) -> PhraseSet | None:
    """The phrases of `kind` in the document's language; None when we have none for it."""
    if doc.language == "en":
        return _ENGLISH_SETS[kind]
    phrases = _OTHER_LANGUAGES.get(doc.language, {}).get(kind)
    if phrases is None:
        return None
    key = (doc.language, kind)
    if key not in _compiled:
        _compiled[key] = PhraseSet(phrases)
    return _compiled[key]


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


def _objectives(doc: Document) -> tuple[float | None, str]:
    listed = _texts(doc.content.get("learning_objectives"))
    if listed:
        measurable = sum(1 for o in listed if {w.lower() for w in words(o)[:4] + words(o)[-1:]} & _BLOOM)
        value = 0.5 * _sat(len(listed), 3) + 0.5 * measurable / len(listed)
        return value, "learning objectives should each start with a measurable verb (explain, compare, calculate...)"
    phrases = _set("objective", doc)
    if phrases is None:
        return None, ""
    stated = phrases.find_in(doc)
    return (1.0 if stated else 0.0), "never tells the learner what they will be able to do by the end"


def _examples_target(doc: Document) -> float:
    return max(1.0, min(4.0, doc.word_count / 300))


# A named case (a person, place or work named mid-sentence) or a number in context is an example
# too: readings, podcasts and summaries show ideas at work without saying "for example".
_NAMED = re.compile(r"(?<=[a-z,;] )(?:[A-Z][a-z]+|[0-9][0-9.,]*)")


def _examples(doc: Document) -> tuple[float | None, str]:
    phrases = _set("example", doc)
    if phrases is None:
        return None, ""
    n = phrases.count_in(doc) + sum(1 for s in doc.sentences if _NAMED.search(s)) / 3
    target = _examples_target(doc)
    return _sat(n, target), f"gives {n:.0f} concrete examples or cases; show the idea at work in at least {target:.0f}"


def _explanation(doc: Document) -> tuple[float | None, str]:
    phrases = _set("explain", doc)
    if phrases is None:
        return None, ""
    n = phrases.count_in(doc)
    rate = n * 100 / max(doc.word_count, 1)
    return _sat(rate, 1.0), "states facts without explaining them; say why things happen and how they connect"


def _practice(doc: Document) -> tuple[float | None, str]:
    exercises = _texts(doc.content.get("practice_exercises"))
    if "practice_exercises" in doc.content:
        phrases = _set("practice", doc)
        active = sum(1 for e in exercises if (phrases is not None and phrases.any(e)) or "?" in e)
        return 0.5 * _sat(len(exercises), 3) + 0.5 * (active / len(exercises) if exercises else 0.0), \
            "practice exercises should ask the learner to do something with the ideas, not just read"
    phrases = _set("practice", doc)
    if phrases is None:
        return None, ""
    n = phrases.count_in(doc)
    return _sat(n, max(1.0, doc.word_count / 500)), "gives the learner nothing to do with the ideas; add a short task"


def _assessment(doc: Document) -> tuple[float, str]:
    if "assessment_questions" in doc.content:
        qs = _texts(doc.content.get("assessment_questions"))
        return _sat(len(qs), 5), "needs at least 5 assessment questions that check understanding"
    phrases = _set("assess", doc)
    n = sum(1 for s in doc.sentences if s.rstrip().endswith("?")) + (phrases.count_in(doc) if phrases else 0)
    return _sat(n, 2), "never checks understanding; add questions the learner should be able to answer"


def _higher_order(doc: Document) -> tuple[float | None, str]:
    phrases = _set("higher_order", doc)
    if phrases is None:
        return None, ""
    qs = _questions(doc)
    if len(qs) >= 3:
        share = sum(1 for q in qs if phrases.any(q)) / len(qs)
        return _sat(share, 0.5), "questions only ask for recall; ask the learner to explain, compare, predict or apply"
    n = phrases.count_in(doc)
    return _sat(n, 2), "does not ask the learner to reason about causes, comparisons or consequences"


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
    value = doc.content.get("items")
    items = value if isinstance(value, list) else []
    levels = {i.get("difficulty") for i in items if isinstance(i, dict)} & {"easy", "medium", "hard"}
    return len(levels) / 3, "all cards have the same difficulty; mix easy, medium and hard"


def _anchoring(doc: Document) -> tuple[float | None, str]:
    phrases = _set("anchor", doc)
    if phrases is None:
        return None, ""
    qs = _questions(doc)
    # A quotation or a name from the work (a character, a place, the author) anchors a question too.
    titled = {w.lower() for w in words(doc.title)}  # naming the work itself sends nobody back into it
    share = sum(1 for q in qs if phrases.any(q) or _QUOTE.search(q)
                or any(m.lower() not in titled for m in _NAMED_WORD.findall(q))) / len(qs) if qs else 0.0
    return _sat(share, 0.3), "questions should send the reader back to the text (the author, the passage, evidence)"


_QUOTE = re.compile(r"['\u2018\"\u201c\u00ab][^'\u2019\"\u201d\u00bb]{3,}['\u2019\"\u201d\u00bb]")
_NAMED_WORD = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{2,}")

Signal = Callable[[Document], tuple[float | None, str]]
_EDU_SIGNALS: dict[str, Signal] = {
    "objectives": _objectives, "examples": _examples, "explanation": _explanation, "practice": _practice,
    "assessment": _assessment, "higher_order": _higher_order, "definitions": _definitions,
    "difficulty_mix": _difficulty_mix, "anchoring": _anchoring,
}
# Explanation (saying why and how) carries most weight wherever prose teaches; the schema already
# enforces the counts of objectives, exercises and questions, so those weigh by their quality.
EDUCATIONAL_WEIGHTS: dict[str, dict[str, float]] = {
    "master_content_outline": {"objectives": .3, "examples": .15, "explanation": .25, "practice": .1, "assessment": .05, "higher_order": .15},
    # Podcasts, readings and summaries teach by explaining and showing; they need not quiz the learner.
    "podcast_script": {"objectives": .1, "examples": .3, "explanation": .5, "higher_order": .1},
    "study_guide": {"objectives": .2, "examples": .15, "explanation": .2, "practice": .2, "assessment": .15, "higher_order": .1},
    "one_pager_summary": {"examples": .35, "explanation": .65},
    "detailed_reading_material": {"objectives": .05, "examples": .35, "explanation": .5, "higher_order": .1},
    "faq_collection": {"examples": .2, "explanation": .6, "higher_order": .2},
    "flashcards": {"definitions": .6, "examples": .1, "difficulty_mix": .3},
    "reading_guide_questions": {"higher_order": .6, "anchoring": .25, "assessment": .15},
}

# --- engagement signals --------------------------------------------------------------------------


def _eng_questions(doc: Document) -> tuple[float, str]:
    n = sum(1 for s in doc.sentences if s.rstrip().endswith("?"))
    target = max(2.0, len(doc.units) / 3)
    return _sat(n, target), f"asks the learner {n} questions; add at least {target:.0f} that make them think"


def _direct(doc: Document) -> tuple[float | None, str]:
    phrases = _set("direct", doc)
    if phrases is None:
        return None, ""
    rate = phrases.count_in(doc) * 100 / max(doc.word_count, 1)
    return _sat(rate, 1.5), "keeps the learner at a distance; speak to them and connect the ideas to their experience"


def _vivid(doc: Document) -> tuple[float | None, str]:
    phrases = _set("vivid", doc)
    if phrases is None:
        return None, ""
    n = phrases.count_in(doc)
    return _sat(n, max(1.0, doc.word_count / 400)), "stays abstract; tie the ideas to everyday situations or stories"


def _activities(doc: Document) -> tuple[float | None, str]:
    phrases = _set("practice", doc)
    if phrases is None:
        return None, ""
    n = phrases.count_in(doc)
    return _sat(n, max(1.0, doc.word_count / 500)), "has no activity; invite the learner to do something with the ideas"


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
    return _sat(len(openers) / len(qs), 0.5), "questions all start the same way; ask different kinds of question"


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
    total = 0.0
    value = 0.0
    misses: list[tuple[float, str]] = []
    for name, weight in weights.items():
        signal_value, advice = signals[name](doc)
        if signal_value is None:  # not measurable in this language
            continue
        total += weight
        value += weight * signal_value
        if signal_value < 0.6:
            misses.append((weight * (1 - signal_value), advice))
    misses.sort(key=lambda m: -m[0])
    return (value / total if total else 0.0), [f"{label}: {advice}" for _, advice in misses]


def educational_value(doc: Document, content_type: str) -> tuple[float, list[str]]:
    weights = EDUCATIONAL_WEIGHTS.get(content_type, EDUCATIONAL_WEIGHTS["study_guide"])
    return _weighted(doc, weights, _EDU_SIGNALS, "educational_value")


def engagement(doc: Document, content_type: str) -> tuple[float, list[str]]:
    weights = ENGAGEMENT_WEIGHTS.get(content_type, _ENG_DEFAULT)
    return _weighted(doc, weights, _ENG_SIGNALS, "engagement")
