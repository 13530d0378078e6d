"""Structure: is the document shaped like its type (DESIGN.md fields and counts, REFERENCE.md lengths)?

Unlike schema validation, which accepts or rejects, this scores partial
shape so that a document with two sections instead of three scores lower than
one with no sections at all, and names what is wrong so a regeneration can fix it.
Every field contributes checks (present with the right kind, count in range,
each item well formed); the score is the share of passed checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from functions.generate.quality import coherence, redundancy
from functions.generate.quality.text import as_text, words


@dataclass(frozen=True)
class TextRule:
    min_chars: int = 1
    max_chars: int = 20_000
    question: bool = False  # must end in "?"


@dataclass(frozen=True)
class ListRule:
    item: "TextRule | ObjectRule"
    min_items: int
    max_items: int
    distinct: str | None = None  # field whose value must be unique ("" for the item itself)
    near_duplicates: bool = True  # no two items may say nearly the same thing (not for citations)
    answers: tuple[str, str] | None = None  # (question, answer) fields: the answer must not restate the question
    defines: tuple[str, str] | None = None  # (term, definition) fields, ("", "") for "Term: explanation" strings


@dataclass(frozen=True)
class ObjectRule:
    fields: dict[str, "TextRule | ListRule | NumberRule | ChoiceRule"]
    numbered: str | None = None  # field that must count 1, 2, 3... in list order


@dataclass(frozen=True)
class NumberRule:
    low: float
    high: float


@dataclass(frozen=True)
class ChoiceRule:
    choices: tuple[str, ...]


Rule = TextRule | ListRule | ObjectRule | NumberRule | ChoiceRule

_T = TextRule()
_SUMMARY = TextRule(min_chars=20)
_Q = TextRule(min_chars=5, question=True)

# DESIGN.md content-type table (counts) and REFERENCE.md "Content types: extra guidance" (lengths).
SPECS: dict[str, dict[str, Rule]] = {
    "master_content_outline": {
        "title": TextRule(3, 200),
        "overview": _SUMMARY,
        "learning_objectives": ListRule(TextRule(10, 500), 3, 10, distinct=""),
        "sections": ListRule(
            ObjectRule({"section_number": NumberRule(1, 15), "title": TextRule(3, 200),
                        "description": _SUMMARY, "key_points": ListRule(TextRule(3, 500), 1, 12)},
                       numbered="section_number"),
            3, 15, distinct="title"),
    },
    "podcast_script": {
        "title": TextRule(3, 200),
        "introduction": TextRule(100, 2_000),
        "main_content": TextRule(800, 10_000),
        "conclusion": TextRule(100, 1_000),
        "speaker_notes": _SUMMARY,
        "estimated_duration_minutes": NumberRule(1, 180),
    },
    "study_guide": {
        "title": TextRule(3, 200),
        "overview": _SUMMARY,
        "learning_objectives": ListRule(TextRule(10, 500), 3, 8, distinct=""),
        "key_concepts": ListRule(TextRule(3, 500), 5, 20, distinct="", defines=("", "")),
        "detailed_content": TextRule(500, 8_000),
        "practice_exercises": ListRule(TextRule(20, 2_000), 3, 10, distinct=""),
        "assessment_questions": ListRule(TextRule(10, 1_000), 5, 15, distinct=""),
        "summary": _SUMMARY,
    },
    "one_pager_summary": {
        "title": TextRule(3, 200),
        "executive_summary": TextRule(100, 500),
        "key_takeaways": ListRule(TextRule(10, 500), 3, 7, distinct=""),
        "main_content": TextRule(200, 6_000),
    },
    "detailed_reading_material": {
        "title": TextRule(3, 200),
        "introduction": TextRule(100, 3_000),
        "sections": ListRule(ObjectRule({"title": TextRule(3, 200), "content": TextRule(200, 10_000)}),
                             3, 10, distinct="title"),
        "conclusion": TextRule(100, 3_000),
        "references": ListRule(TextRule(10, 500), 0, 30, distinct="", near_duplicates=False),  # none: factual scores it
    },
    "faq_collection": {
        "title": TextRule(3, 200),
        "items": ListRule(ObjectRule({"question": _Q, "answer": TextRule(20, 1_000), "category": TextRule(2, 100)}),
                          5, 15, distinct="question", answers=("question", "answer")),
    },
    "flashcards": {
        "title": TextRule(3, 200),
        "items": ListRule(ObjectRule({"term": TextRule(1, 200), "definition": TextRule(10, 500),
                                      "difficulty": ChoiceRule(("easy", "medium", "hard"))}),
                          10, 25, distinct="term", defines=("term", "definition")),
    },
    "reading_guide_questions": {
        "title": TextRule(3, 200),
        "questions": ListRule(_Q, 5, 15, distinct=""),
    },
}


@dataclass
class _Tally:
    """Weighted field scores: each field scores 0..1, lists weigh 2, the title 0.5, other fields 1."""

    passed: float = 0.0
    total: float = 0.0
    problems: list[str] = field(default_factory=list)

    def add(self, value: float, weight: float, problems: list[str]) -> None:
        self.total += weight
        self.passed += weight * max(0.0, min(1.0, value))
        self.problems.extend(problems)

    def check(self, ok: bool, problem: str, weight: float = 1.0) -> bool:
        self.add(1.0 if ok else 0.0, weight, [] if ok else [problem])
        return ok


def _text_value(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):  # tolerate {"text": ...} style items
        text = as_text(value).strip()
        return text or None
    return None


def _text_problem(rule: TextRule, value: Any) -> str | None:
    text = _text_value(value)
    if text is None:
        return "is not text"
    if not text:
        return "is empty"
    if len(text) < rule.min_chars:
        return f"is too short ({len(text)} characters, at least {rule.min_chars})"
    if len(text) > rule.max_chars:
        return f"is too long ({len(text)} characters, at most {rule.max_chars})"
    if rule.question and not text.endswith("?"):
        return 'does not end with "?"'
    return None


def _number_problem(rule: NumberRule, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "is not a number"
    if not rule.low <= value <= rule.high:
        return f"is {value:g}, outside {rule.low:g}-{rule.high:g}"
    return None


def _scalar_problem(rule: Rule, value: Any) -> str | None:
    if isinstance(rule, TextRule):
        return _text_problem(rule, value)
    if isinstance(rule, NumberRule):
        return _number_problem(rule, value)
    if isinstance(rule, ChoiceRule):
        return None if value in rule.choices else f"is {value!r}, not one of {', '.join(rule.choices)}"
    raise TypeError(rule)


def _item_problems(rule: Rule, value: Any, where: str) -> list[str]:
    if isinstance(rule, ObjectRule):
        if not isinstance(value, dict):
            return [f"{where} is not an object"]
        problems = []
        for name, sub in rule.fields.items():
            if name not in value or value[name] is None:
                problems.append(f"{where} has no {name}")
            elif isinstance(sub, ListRule):
                problems.extend(_list_problems(sub, value[name], f"{where}.{name}"))
            else:
                p = _scalar_problem(sub, value[name])
                if p:
                    problems.append(f"{where}.{name} {p}")
        return problems
    p = _scalar_problem(rule, value)
    return [f"{where} {p}"] if p else []


def _list_problems(rule: ListRule, value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        return [f"{where} is not a list"]
    n = len(value)
    if not rule.min_items <= n <= rule.max_items:
        return [f"{where} has {n} items; {rule.min_items}-{rule.max_items} are required"]
    return [p for i, v in enumerate(value) for p in _item_problems(rule.item, v, f"{where}[{i + 1}]")]


def _list_score(name: str, rule: ListRule, value: Any) -> tuple[float, list[str]]:
    """count in range (else x0.4) x (half for the list, half for the share of well-formed items)
    x numbering (else x0.6) x distinct items (else x0.8) x each redundancy check failed (x0.8 each)."""
    if not isinstance(value, list):
        return 0.0, [f"{name} is not a list"]
    n = len(value)
    problems: list[str] = []
    factor = 1.0
    if not rule.min_items <= n <= rule.max_items:
        factor *= 0.4
        problems.append(f"{name} has {n} items; {rule.min_items}-{rule.max_items} are required")
    if not value:
        return (factor if rule.min_items == 0 else 0.0), problems
    bad_items: list[str] = []
    for i, item in enumerate(value):
        bad_items.extend(_item_problems(rule.item, item, f"{name}[{i + 1}]"))
    bad_count = len({p.split(" ", 1)[0].split(".")[0] for p in bad_items})
    factor *= 0.5 + 0.5 * (1 - min(1.0, bad_count / n))
    if isinstance(rule.item, ObjectRule) and rule.item.numbered:
        key = rule.item.numbered
        numbers = [item.get(key) if isinstance(item, dict) else None for item in value]
        if numbers != list(range(1, n + 1)):
            factor *= 0.6
            problems.append(f"{name} must be numbered 1 to {n} in order by {key} (found {numbers})")
    keys: list[str] = []
    if rule.distinct is not None:
        keys = [
            " ".join(words(as_text(item if rule.distinct == "" else (item.get(rule.distinct) if isinstance(item, dict) else item)))).lower()
            for item in value
        ]
        dupes = n - len(set(keys))
        if dupes:
            factor *= 0.8
            problems.append(f"{name} repeats itself ({dupes} duplicate{'s' if dupes != 1 else ''})")
    for found in _redundancy(name, rule, value, keys):
        factor *= 0.8
        problems.append(found)
    problems.extend(bad_items[:4])  # list-level problems first: they matter more than one item
    if len(bad_items) > 4:
        problems.append(f"{name}: {len(bad_items) - 4} more item problems")
    return factor, problems


def _field(item: Any, key: str) -> str:
    return (_text_value(item.get(key)) or "") if isinstance(item, dict) else ""


def _term_and_definition(item: Any, fields: tuple[str, str]) -> tuple[str, str] | None:
    if fields == ("", ""):  # "Term: explanation"
        text = _text_value(item) or ""
        term, colon, definition = text.partition(":")
        return (term, definition) if colon and term.strip() else None
    term, definition = _field(item, fields[0]), _field(item, fields[1])
    return (term, definition) if term and definition else None


def _listed(positions: list[int]) -> str:
    shown = ", ".join(str(p + 1) for p in positions[:5])
    more = f" and {len(positions) - 5} more" if len(positions) > 5 else ""
    return f"item{'s' if len(positions) > 1 else ''} {shown}{more}"


def _redundancy(name: str, rule: ListRule, value: list[Any], keys: list[str]) -> list[str]:
    """One problem per failed check (near-duplicates, restated answers, circular definitions), in plain words
    for the regeneration prompt. Pairs whose distinct key is identical are already counted as duplicates."""
    problems = []
    if rule.near_duplicates:
        pairs = [(i, j) for i, j in redundancy.near_duplicates([as_text(item) for item in value])
                 if not keys or keys[i] != keys[j]]
        if pairs:
            shown = "; ".join(f"{i + 1} and {j + 1}" for i, j in pairs[:3])
            more = f" (and {len(pairs) - 3} more pairs)" if len(pairs) > 3 else ""
            problems.append(f"{name}: items {shown}{more} say nearly the same thing; make each item teach something different")
    if rule.answers:
        question, answer = rule.answers
        restated = [i for i, item in enumerate(value)
                    if (share := redundancy.restated_share(_field(item, question), _field(item, answer))) is not None
                    and share >= redundancy.RESTATED]
        if restated:
            problems.append(f"{name}: {_listed(restated)}: the {answer} only restates the {question}; "
                            f"answer with information the {question} does not already give")
    if rule.defines:
        circular = [i for i, item in enumerate(value)
                    if (pair := _term_and_definition(item, rule.defines)) and redundancy.repeats_term(*pair)]
        if circular:
            problems.append(f"{name}: {_listed(circular)}: the definition uses the term it defines; "
                            "explain each term in other words")
    return problems


def score(content_type: str, content: Any) -> tuple[float, list[str]]:
    spec = SPECS.get(content_type)
    if spec is None:
        return 0.0, [f"structure: unknown content type {content_type!r}"]
    if not isinstance(content, dict):
        return 0.0, ["structure: the document is not a JSON object"]
    tally = _Tally()
    for name, rule in spec.items():
        weight = 2.0 if isinstance(rule, ListRule) else 0.5 if name == "title" else 1.0
        value = content.get(name)
        if value is None:
            tally.add(0.0, weight, [f"{name} is missing"])
        elif isinstance(rule, ListRule):
            list_value, problems = _list_score(name, rule, value)
            tally.add(list_value, weight, problems)
        else:
            problem = _scalar_problem(rule, value)
            tally.add(0.0 if problem else 1.0, weight, [f"{name} {problem}"] if problem else [])
    extra: Callable[[_Tally, dict[str, Any]], None] | None = _EXTRA.get(content_type)
    if extra:
        extra(tally, content)
    value = tally.passed / tally.total if tally.total else 0.0
    placeholders = coherence.placeholders(as_text(content))
    if placeholders:  # the whole document is suspect, not one field
        value *= 0.5
        tally.problems.insert(0, f"unfilled template placeholders: {', '.join(placeholders[:3])}")
    return value, [f"structure: {p}" for p in tally.problems]


def _podcast_duration(tally: _Tally, content: dict[str, Any]) -> None:
    """Spoken words per minute should be plausible (50-250 wpm)."""
    minutes = content.get("estimated_duration_minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        return
    spoken = sum(len(words(as_text(content.get(k)))) for k in ("introduction", "main_content", "conclusion"))
    rate = spoken / minutes
    tally.check(50 <= rate <= 250,
                f"estimated_duration_minutes {minutes:g} does not fit {spoken} spoken words "
                f"({rate:.0f} words a minute; about 130-160 is normal speech)")


_EXTRA: dict[str, Callable[[_Tally, dict[str, Any]], None]] = {"podcast_script": _podcast_duration}
