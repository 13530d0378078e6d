"""Coverage: does the document treat the requested topic and teach each learning objective?

Matching is by word stems, not exact strings: "photosynthetic plants" covers the
topic "plant photosynthesis". Objectives must be taught in the body: listing an
objective in `learning_objectives` does not count as covering it.
"""

from __future__ import annotations

from functions.generate.quality.text import Document, content_words, stem, word_set, words

MAX_TERMS = 12  # a long topic is judged on its most specific (longest) words


def _terms(text: str) -> dict[str, str]:
    """stem -> the word as written, for the meaningful words of a topic or objective."""
    found: dict[str, str] = {}
    for w in content_words(text) or [w for w in words(text) if not w.isdigit()]:
        found.setdefault(stem(w), w)
    if len(found) > MAX_TERMS:
        keep = sorted(found, key=lambda s: (-len(found[s]), s))[:MAX_TERMS]
        found = {s: found[s] for s in keep}
    return found


def _share(terms: dict[str, str], doc: Document) -> tuple[float, list[str]]:
    missing = [word for word in terms.values() if not doc.has_word(word)]
    return (1 - len(missing) / len(terms)) if terms else 1.0, missing


def _topic_score(topic: str, doc: Document) -> tuple[float, list[str]]:
    terms = _terms(topic)
    if not terms:
        return 1.0, []
    share, missing = _share(terms, doc)
    mentioning = sum(1 for u in doc.units if any(stem(w) in terms for w in word_set(u)))
    spread = mentioning / len(doc.units) if doc.units else 0.0
    in_title = bool({stem(w) for w in words(doc.title)} & terms.keys())
    value = 0.5 * min(1.0, share / 0.75) + 0.35 * min(1.0, spread / 0.5) + 0.15 * in_title
    weaknesses = []
    if missing:
        weaknesses.append(f"coverage: the topic words {', '.join(repr(m) for m in missing)} never appear in the text")
    if spread < 0.5 and doc.units:
        weaknesses.append(
            f"coverage: only {mentioning} of {len(doc.units)} parts mention the topic {topic!r}; keep every part on it"
        )
    if not in_title:
        weaknesses.append(f"coverage: the title does not name the topic {topic!r}")
    return value, weaknesses


def _objective_scores(objectives: list[str], doc: Document) -> tuple[list[float], list[str]]:
    values, weaknesses = [], []
    for objective in objectives:
        terms = _terms(objective)
        share, missing = _share(terms, doc)
        values.append(min(1.0, share / 0.75))
        if share < 0.75:
            weaknesses.append(
                f"coverage: learning objective {objective!r} is not taught in the body "
                f"(missing: {', '.join(repr(m) for m in missing)})"
            )
    return values, weaknesses


def score(doc: Document, topic: str, learning_objectives: list[str] | None) -> tuple[float, list[str]]:
    topic_value, weaknesses = _topic_score(topic, doc)
    objectives = [o for o in (learning_objectives or []) if isinstance(o, str) and o.strip()]
    if not objectives:
        own = doc.content.get("learning_objectives")
        objectives = [o for o in own if isinstance(o, str) and o.strip()] if isinstance(own, list) else []
    if not objectives:
        return topic_value, weaknesses
    values, objective_weaknesses = _objective_scores(objectives, doc)
    return 0.5 * topic_value + 0.5 * sum(values) / len(values), weaknesses + objective_weaknesses
