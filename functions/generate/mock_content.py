"""Offline, deterministic documents for the `mock` provider: template text, scored honestly.

Why it exists: with no provider configured (the embedded default) the product
must still run end to end. The mock writes each of the 8 types from sentence
banks in four registers (one per audience band) and puts the topic and every
learning objective into the text. It knows nothing of the quality gate (it
imports none of it and never measures itself), so the gate scores it like any
provider's output: generic template sentences repeat across parts, so many
mock documents fail the gate and are shown with honest scores. Same inputs
give the same document; the topic and the attempt number change the wording.
The text is English whatever `language` asks for (the provider is labelled
`mock`, not a translator), so a request in another language fails the gate.
For the README's example request (flashcards on "The water cycle") it serves a
hand-written demo document instead (`mock_demo.json`), so the first run shows
the product working; the gate scores it like any other document.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import random
import re
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote_plus

_WORD = re.compile(r"[^\W\d_][\w'-]*")
_COMMON = frozenset("""about after also and because before between compare describe explain from have into
    learn like main more other over such than that their them then there these they this through understand
    what when where which while with would your""".split())


def content_words(text: str) -> list[str]:
    """The words worth turning into key terms: longer than three letters and not common glue words."""
    return [w for w in _WORD.findall(text) if len(w) > 3 and w.lower() not in _COMMON]

_REGISTER = {
    "elementary": "simple", "middle_school": "middle", "high_school": "standard",
    "adult_learning": "standard", "general": "standard", "college": "academic",
}

# Sentence banks: {T} topic, {O} an objective as a verb phrase, {W} a key word.
BANKS: dict[str, dict[str, list[str]]] = {
    "simple": {
        "intro": ["Today we will learn about {T}.", "Let's find out about {T} together.",
                  "Have you ever wondered about {T}?"],
        "explain": ["{Tc} is a big idea, but you can learn it step by step.",
                    "Here is how {T} works, one small step at a time.",
                    "{Tc} matters because it helps us understand the world.",
                    "This means that {T} is part of your life every day.",
                    "Each part of {T} leads to the next part."],
        "example": ["For example, think of what you see on the way to school.",
                    "Imagine you are a scientist who studies {T}.",
                    "For instance, you can spot {T} at home or in the park.",
                    "Think of {T} like a story with a start, a middle and an end."],
        "activity": ["Try this: draw a picture that shows {T}.",
                     "Make a list of three things you know about {T}.",
                     "Talk with a friend and share one fact about {T}."],
        "question": ["What do you notice about {T}?", "Why do you think {T} is important?",
                     "How could you explain {T} to a friend?", "What would happen if {T} changed?"],
        "objective": ["Our goal is to {O}.", "Next, you will {O}.", "Now let's {O}."],
        "summary": ["Now you know more about {T}.", "You learned what {T} is and why it matters."],
        "close": ["Keep asking questions and keep exploring!", "Great job today!"],
        "define": ["{W} is a part of {T} that you can see, name or use.",
                   "{W} is a word that helps you talk about {T}."],
    },
    "middle": {
        "intro": ["In this lesson, we will explore {T} and why it matters.",
                  "Let's take a closer look at {T} and the ideas behind it."],
        "explain": ["To understand {T}, start with the basic parts and see how they connect.",
                    "{Tc} works through a series of steps, and each step leads to the next one.",
                    "People study {T} because it explains many things we see around us.",
                    "This means you can use what you learn about {T} to solve real problems."],
        "example": ["For example, think about how {T} shows up in your daily life.",
                    "Imagine you had to explain {T} to a younger student.",
                    "For instance, a simple model can show how {T} works."],
        "activity": ["Try this: sketch a diagram of {T} and label each part.",
                     "Write two sentences that compare {T} with something you already know.",
                     "Work with a partner to list the main steps of {T}."],
        "question": ["What would happen if one part of {T} changed?",
                     "How does {T} connect to the world around you?",
                     "Why do people need to understand {T}?"],
        "objective": ["One goal of this lesson is to {O}.", "By the end, you should be able to {O}."],
        "summary": ["In short, {T} is easier to understand when you look at its parts one at a time.",
                    "You have now seen the main ideas of {T} and how they fit together."],
        "close": ["Keep these ideas in mind as you move on to the next topic."],
        "define": ["{W} is an important term in {T}, and it helps you describe how the parts work.",
                   "{W} names one part of {T}, and you can find it in many everyday examples."],
    },
    "standard": {
        "intro": ["This material introduces {T}, explaining its central ideas and showing how they apply in practice.",
                  "Understanding {T} gives you a useful framework for interpreting situations you will meet in study and at work."],
        "explain": ["At its core, {T} depends on a small number of principles that interact in predictable ways.",
                    "Because these principles build on each other, it helps to learn them in order and to check your understanding as you go.",
                    "This means that a clear grasp of {T} allows you to reason about new cases instead of memorizing isolated facts.",
                    "Specialists usually describe {T} with models that simplify reality while keeping its most important features."],
        "example": ["For example, consider how {T} appears in a familiar situation, and identify which principle explains each part.",
                    "Imagine explaining {T} to a colleague who is new to the subject.",
                    "For instance, a simple diagram can reveal how the parts of {T} influence one another."],
        "activity": ["Try summarizing {T} in three sentences, then compare your summary with the key points here.",
                     "Draw a concept map that connects the main ideas of {T} and label each connection."],
        "question": ["How would the outcome change if one of the conditions behind {T} were different?",
                     "Why is {T} often misunderstood, and what evidence helps correct those misunderstandings?",
                     "What would you predict about {T} in a situation you have not seen before?"],
        "objective": ["A central goal is to {O}, using evidence and clear reasoning.",
                      "By the end, you should be able to {O}."],
        "summary": ["In summary, {T} is best understood as a set of connected principles rather than a list of separate facts."],
        "close": ["Revisit these ideas regularly, because spaced review usually strengthens long-term understanding."],
        "define": ["{W} is a central concept in {T}, describing how one part of the system influences the others.",
                   "{W} refers to an idea within {T} that helps you explain observations and predict outcomes."],
    },
    "academic": {
        "intro": ["This material examines {T} from theoretical and empirical perspectives, emphasizing the mechanisms that generally underlie observable phenomena."],
        "explain": ["Contemporary scholarship typically conceptualizes {T} as an interaction between structural conditions and individual decisions, although interpretations vary considerably.",
                    "Consequently, a rigorous understanding of {T} requires distinguishing descriptive generalizations from explanatory mechanisms and evaluating the evidence supporting each.",
                    "Because methodological choices influence conclusions, researchers investigating {T} frequently triangulate experimental, observational, and computational approaches.",
                    "This means that theoretical models of {T} should be assessed according to their predictive accuracy, internal consistency, and explanatory scope."],
        "example": ["For example, consider a representative case study in which {T} produces measurable consequences, and identify which theoretical assumptions explain those consequences.",
                    "Imagine designing an investigation that isolates one variable associated with {T} while controlling for plausible confounding factors."],
        "activity": ["Try constructing a comparative analysis of two competing interpretations of {T}, evaluating the methodological strengths and limitations of each.",
                     "Write an annotated bibliography that summarizes three scholarly perspectives on {T}."],
        "question": ["How would alternative theoretical frameworks explain the empirical patterns associated with {T}?",
                     "Why might conclusions about {T} differ across disciplinary traditions, and how could those differences be reconciled?",
                     "What evidence would be required to falsify the dominant interpretation of {T}?"],
        "objective": ["A principal objective is to {O}, drawing on empirical evidence and theoretical reasoning.",
                      "Accordingly, you should be able to {O} with appropriate qualifications."],
        "summary": ["In conclusion, {T} illustrates how theoretical sophistication and empirical evidence must be integrated to produce defensible explanations."],
        "close": ["Continued engagement with the primary literature will deepen your understanding of these interpretive debates."],
        "define": ["{W} denotes a concept within {T} that organizes observations and supports careful explanation.",
                   "{W} refers to an analytical category that scholars of {T} use to distinguish competing explanations."],
    },
}
_BLOOM_START = frozenset(
    """identify describe explain compare contrast classify apply analyze analyse evaluate create design
    calculate predict summarize summarise demonstrate justify interpret distinguish construct solve use
    list name define recall recognize recognise illustrate examine assess argue plan investigate relate
    outline discuss measure test label locate explore model estimate critique develop differentiate
    formulate propose state show draw write build observe choose decide understand know learn""".split()
)


def _label(topic: str, limit: int = 80) -> str:
    """A short form of the topic for titles, terms and capped fields."""
    text = " ".join(topic.split()).rstrip(".?!")
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0]


def _verb_phrase(objective: str) -> str:
    text = " ".join(objective.split()).rstrip(".?!")
    first = text.split(" ", 1)[0].lower() if text else ""
    if first in _BLOOM_START:
        return text[0].lower() + text[1:]
    return "learn about " + text


def _default_objectives(label: str) -> list[str]:
    return [f"Explain what {label} is in your own words",
            f"Describe the main parts of {label} with an example",
            f"Apply ideas about {label} to a real situation",
            f"Compare {label} with a related idea"]


@dataclass
class _Writer:
    topic: str
    objectives: list[str]
    register: str
    rng: random.Random
    requested: list[str] = field(default_factory=list)  # the caller's objectives (not our defaults)
    _cursor: dict[str, int] = field(default_factory=dict)
    _order: dict[str, list[str]] = field(default_factory=dict)

    def s(self, kind: str, topic: str | None = None, **extra: str) -> str:
        bank = BANKS[self.register][kind]
        if kind not in self._order:
            order = list(bank)
            self.rng.shuffle(order)
            self._order[kind] = order
        i = self._cursor.get(kind, 0)
        self._cursor[kind] = i + 1
        template = self._order[kind][i % len(bank)]
        t = topic if topic is not None else self.topic
        return template.format(T=t, Tc=t[:1].upper() + t[1:], O=extra.get("O", ""), W=extra.get("W", ""))

    def objective(self, i: int) -> str:
        return self.s("objective", O=_verb_phrase(self.objectives[i]))

    def seq(self, *parts: str, topic: str | None = None, **extra: str) -> list[str]:
        """Sentences: bank kinds, or literal sentences ending in punctuation."""
        return [part if part[-1:] in ".?!" else self.s(part, topic=topic, **extra) for part in parts]

    def para(self, *parts: str, topic: str | None = None) -> str:
        return " ".join(self.seq(*parts, topic=topic))

    def capped(self, max_chars: int, *parts: str, topic: str | None = None, **extra: str) -> str:
        return _fit(self.seq(*parts, topic=topic, **extra), max_chars)


def _fit(sentences: list[str], max_chars: int) -> str:
    """Whole sentences up to max_chars (at least the first, cut at a word if it alone is too long)."""
    out = ""
    for s in sentences:
        candidate = f"{out} {s}".strip()
        if len(candidate) > max_chars:
            break
        out = candidate
    if not out and sentences:
        out = sentences[0][: max_chars - 1].rsplit(" ", 1)[0] + "."
    return out


def _key_words(topic: str, objectives: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for w in content_words(topic + " " + " ".join(objectives)):
        seen.setdefault(w.lower(), w)
    return [w[:1].upper() + w[1:] for w in seen.values()]


# --- one builder per type -----------------------------------------------------------------------


def _outline(w: _Writer, label: str) -> dict[str, Any]:
    objectives = w.objectives[:10]
    sections: list[dict[str, Any]] = [{"title": f"Getting started with {label}",
                 "description": w.para("intro", "explain", "example", "question"),
                 "key_points": [w.capped(500, "explain", topic=label), w.capped(500, "example", topic=label)]}]
    for i, objective in enumerate(objectives[:12]):
        sections.append({"title": f"Goal {i + 1}: {_label(objective, 70)}",
                         "description": w.para(w.objective(i), "explain", "example", "activity", "question"),
                         "key_points": [w.capped(500, k, topic=label) for k in ("explain", "activity", "question")]})
    sections.append({"title": f"Review and practice: {label}",
                     "description": w.para("summary", "activity", "question", "close"),
                     "key_points": [w.capped(500, k, topic=label) for k in ("summary", "activity")]})
    for n, section in enumerate(sections, start=1):
        section["section_number"] = n
    return {"title": f"{label}: Course Outline",
            "overview": w.para("intro", w.objective(0), "explain", "example", "question"),
            "learning_objectives": objectives,
            "sections": [{"section_number": s["section_number"], "title": s["title"],
                          "description": s["description"], "key_points": s["key_points"]} for s in sections]}


def _podcast(w: _Writer, label: str) -> dict[str, Any]:
    main = [w.para("explain", "example", "question", "explain")]
    for i in range(len(w.objectives)):
        main.append(w.para(w.objective(i), "explain", "example", "activity", "question"))
    main.append(w.para("explain", "example", "question"))
    intro = w.para("intro", w.objective(0), "question")
    conclusion_sentences = w.para("summary", "activity", "close")
    document: dict[str, Any] = {
        "title": f"{label}: The Podcast",
        "introduction": intro if len(intro) <= 2000 else _fit(re.split(r"(?<=[.?!]) ", intro), 2000),
        "main_content": _fit(re.split(r"(?<=[.?!]) ", "\n\n".join(main)), 10_000) if len("\n\n".join(main)) > 10_000 else "\n\n".join(main),
        "conclusion": _fit(re.split(r"(?<=[.?!]) ", conclusion_sentences), 1000),
        "speaker_notes": "Speak slowly and warmly. Pause for a few seconds after each question so listeners can think, "
                         "and stress the key words of each goal.",
    }
    spoken = sum(len(document[k].split()) for k in ("introduction", "main_content", "conclusion"))
    document["estimated_duration_minutes"] = max(1, round(spoken / 140))
    return document


def _study_guide(w: _Writer, label: str) -> dict[str, Any]:
    words = [k for k in _key_words(w.topic, w.requested) if k.lower() != label.lower()]
    concepts = [f"{label}: " + w.s("explain", topic=label)]
    concepts += [f"{k}: " + w.s("define", W=k, topic=label) for k in words[:12]]
    generic = ["Main idea", "Example", "Cause and effect", "Evidence", "Model"]
    concepts += [f"{g}: " + w.s("define", W=g, topic=label) for g in generic][: max(0, 5 - len(concepts))]
    detailed = [w.para("explain", "example", "explain")]
    for i in range(len(w.objectives)):
        detailed.append(w.para(w.objective(i), "explain", "example", "question"))
    exercises = [w.s("activity", topic=label) for _ in range(2)]
    exercises += [f"Write a short answer: how would you {_verb_phrase(o)}? Use one example." for o in w.objectives[:8]]
    questions = [w.s("question", topic=label) for _ in range(3)]
    questions += [f"How would you {_verb_phrase(o)}?" for o in w.objectives]
    questions += [f"Why does {label} matter in real life?", f"What is one example of {label}?"]
    return {"title": f"{label}: Study Guide",
            "overview": w.para("intro", w.objective(0), "question"),
            "learning_objectives": w.objectives[:8],
            "key_concepts": list(dict.fromkeys(concepts))[:20],
            "detailed_content": _fit(re.split(r"(?<=[.?!]) ", "\n\n".join(detailed)), 8000),
            "practice_exercises": list(dict.fromkeys(exercises))[:10],
            "assessment_questions": list(dict.fromkeys(questions))[:15],
            "summary": w.para("summary", "activity", "close")}


def _one_pager(w: _Writer, label: str) -> dict[str, Any]:
    executive = w.capped(500, "intro", "explain", "example", topic=label)
    takeaways = [w.s("explain", topic=label), w.s("example", topic=label)]
    takeaways += [w.objective(i) for i in range(min(5, len(w.objectives)))]
    main = [w.para("explain", "example", "question")]
    for i in range(len(w.objectives)):
        main.append(w.para(w.objective(i), "example", "explain"))
    main.append(w.para("activity", "summary", "close"))
    return {"title": f"{label}: One-Page Summary", "executive_summary": executive,
            "key_takeaways": list(dict.fromkeys(takeaways))[:7],
            "main_content": _fit(re.split(r"(?<=[.?!]) ", "\n\n".join(main)), 6000)}


def _reading(w: _Writer, label: str) -> dict[str, Any]:
    sections = [{"title": f"What is {label}?", "content": w.para("explain", "example", "explain", "question")}]
    for i, objective in enumerate(w.objectives[:8]):
        sections.append({"title": _label(objective, 90),
                         "content": w.para(w.objective(i), "explain", "example", "activity", "question")})
    sections.append({"title": f"Looking further at {label}", "content": w.para("explain", "example", "question", "summary")})
    for section in sections:
        while len(section["content"]) < 220:  # REFERENCE.md: reading sections of 200 characters or more
            section["content"] += " " + w.para("explain")
    q = quote_plus(_label(w.topic, 120))
    return {"title": f"{label}: Reading", "introduction": w.para("intro", w.objective(0), "question"),
            "sections": sections[:10], "conclusion": w.para("summary", "activity", "close"),
            "references": [f"Library of Congress catalog search for '{_label(w.topic, 120)}': https://www.loc.gov/search/?q={q}",
                           f"Open Library subject search for '{_label(w.topic, 120)}': https://openlibrary.org/search?q={q}"]}


def _faq(w: _Writer, label: str) -> dict[str, Any]:
    pairs = [
        (f"What is {label}?", "Basics", ("explain", "example")),
        (f"Why does {label} matter?", "Why it matters", ("explain", "example")),
        (f"How does {label} work?", "How it works", ("explain", "example")),
        (f"How can I practise {label}?", "Learning tips", ("activity", "explain")),
    ]
    items = [{"question": q, "category": c, "answer": w.capped(1000, *kinds, topic=label)} for q, c, kinds in pairs]
    for i, objective in enumerate(w.objectives[:10]):
        answer = w.capped(1000, w.objective(i), "example", "explain", topic=label)
        items.append({"question": f"How do I {_verb_phrase(objective)}?", "category": "Learning goals", "answer": answer})
    return {"title": f"{label}: Frequently Asked Questions", "items": items[:15]}


def _flashcards(w: _Writer, label: str) -> dict[str, Any]:
    terms = [label] + [k for k in _key_words(w.topic, w.requested) if k.lower() != label.lower()]
    terms += ["Main idea", "Example", "Cause and effect", "Evidence", "Model", "Key vocabulary",
              "Common mistake", "Real-world use", "Review question", "Summary", "Prediction", "Comparison"]
    levels = ("easy", "medium", "hard")
    items = []
    for i, objective in enumerate(w.objectives[:8]):
        items.append({"term": f"Goal {i + 1}: {_label(objective, 60)}",
                      "definition": w.capped(500, w.objective(i), "example", topic=label),
                      "difficulty": levels[(i + 1) % 3]})
    unique = list(dict.fromkeys(t for t in terms if t))[: 25 - len(items)]
    for n, term in enumerate(unique):
        definition = w.capped(500, "define", "example", topic=label, W=term)
        items.append({"term": term, "definition": definition, "difficulty": levels[n % 3]})
    return {"title": f"{label}: Flashcards", "items": items[:25]}


_QUESTION_BANK = {
    "simple": ["What do you already know about {T}?", "What does the text say about {T}?",
               "Why does the author think {T} is important?", "How would you {O}?",
               "What is one real-life example of {T} you can think of?", "Which part of the reading was new to you?",
               "How can you use what you read in your own life?"],
    "middle": ["Before reading, what do you already know about {T}?", "What does the text say is the main idea of {T}?",
               "Why does the author think {T} matters?", "How would you {O}, using evidence from the text?",
               "What real-life example of {T} does the reading remind you of?",
               "Which evidence in the passage was most convincing to you, and why?",
               "How could you explain the reading to a friend in your own words?"],
    "standard": ["Before reading, what do you already know about {T}, and where did that knowledge come from?",
                 "What does the text identify as the central principle of {T}?",
                 "Why does the author argue that {T} matters, and do you find the argument convincing?",
                 "How would you {O}, using specific evidence from the text?",
                 "What real-world situation could you analyze with the ideas about {T} in this reading?",
                 "Which evidence in the passage most strongly supports the author's view, and why?",
                 "In your own words, how would you summarize the reading for someone new to the subject?"],
    "academic": ["Which theoretical assumptions about {T} does the author presuppose, and how explicitly are they justified?",
                 "How does the text conceptualize {T}, and which alternative conceptualizations does it overlook?",
                 "Why does the author consider the evidence regarding {T} persuasive, and what methodological limitations remain?",
                 "How would you {O}, substantiating your interpretation with evidence from the passage?",
                 "What empirical investigation could you design to evaluate the author's principal claims about {T}?",
                 "Which counterarguments to the author's interpretation would be most compelling, and why?",
                 "Imagine applying the author's framework to a real-world case: which predictions about {T} would follow?",
                 "In your own analysis, how does this reading relate to broader scholarly debates?"],
}


def _reading_guide(w: _Writer, label: str) -> dict[str, Any]:
    bank = _QUESTION_BANK[w.register]
    questions: list[str] = []
    objectives = w.objectives[:9]
    for template in bank:
        if "{O}" in template:
            questions.extend(template.format(T=label, O=_verb_phrase(o)) for o in objectives)
        else:
            questions.append(template.format(T=label, O=""))
    return {"title": f"{label}: Reading Guide Questions", "questions": list(dict.fromkeys(questions))[:15]}


_BUILDERS: dict[str, Callable[[_Writer, str], dict[str, Any]]] = {
    "master_content_outline": _outline, "podcast_script": _podcast, "study_guide": _study_guide,
    "one_pager_summary": _one_pager, "detailed_reading_material": _reading, "faq_collection": _faq,
    "flashcards": _flashcards, "reading_guide_questions": _reading_guide,
}
CONTENT_TYPES = tuple(_BUILDERS)


@functools.cache
def _demo_documents() -> dict[str, dict[str, Any]]:
    data = json.loads((Path(__file__).parent / "mock_demo.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def demo(content_type: str, topic: str, language: str) -> dict[str, Any] | None:
    """The hand-written demo document for the README's example request, if this is one (English only)."""
    if language.split("-", 1)[0].lower() != "en":
        return None
    document = _demo_documents().get(content_type, {}).get(" ".join(topic.split()).rstrip(".?!").lower())
    return copy.deepcopy(document) if document is not None else None


def build(content_type: str, *, topic: str, audience: str, learning_objectives: list[str],
          language: str, attempt: int = 1) -> dict[str, Any]:
    """A schema-valid document of `content_type` about `topic`, pitched at `audience`'s grade band: the
    hand-written demo document for the README's example topic, template text for any other."""
    if content_type not in _BUILDERS:
        raise ValueError(f"unknown content type {content_type!r}")
    document = demo(content_type, topic, language)
    if document is not None:
        return document
    label = _label(topic)
    objectives = [" ".join(o.split()) for o in learning_objectives if o and o.strip()]
    objectives += _default_objectives(label)[: max(0, 3 - len(objectives))]
    register = _REGISTER.get(audience, "standard")
    key = "\x1f".join([content_type, topic, audience, *objectives, language, str(attempt)])
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    writer = _Writer(topic=" ".join(topic.split()).rstrip(".?!"), objectives=objectives,
                     register=register, rng=random.Random(seed), requested=list(learning_objectives))
    return _BUILDERS[content_type](writer, label)
