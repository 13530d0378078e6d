"""Hand-written, schema-valid documents per content type for the fake provider server."""

from __future__ import annotations

from typing import Any

from functions.generate import content_types


def _para(topic: str, n: int) -> str:
    return (f"{topic} matters because it connects ideas you already know with new ones. "
            f"For example, point {n} shows how {topic} works in everyday life, and why careful study helps. "
            "Think about how you would explain it to a friend, then check your answer against a reliable source.")


def document(content_type: str, topic: str = "Photosynthesis") -> dict[str, Any]:
    t = topic
    docs = {
        "master_content_outline": {
            "title": f"{t}: a course outline", "overview": _para(t, 0),
            "learning_objectives": [f"Explain aspect {i} of {t}" for i in range(1, 4)],
            "sections": [{"section_number": i, "title": f"Part {i} of {t}", "description": _para(t, i),
                          "key_points": [f"Key idea {i}.{k} about {t}" for k in range(1, 3)]} for i in range(1, 4)],
        },
        "podcast_script": {
            "title": f"Talking about {t}", "introduction": _para(t, 1), "main_content": " ".join(_para(t, i) for i in range(6)),
            "conclusion": _para(t, 9), "speaker_notes": "Speak slowly and pause after each question.",
            "estimated_duration_minutes": 12,
        },
        "study_guide": {
            "title": f"Study guide: {t}", "overview": _para(t, 0),
            "learning_objectives": [f"Describe {t} idea {i}" for i in range(1, 4)],
            "key_concepts": [f"Concept {i} of {t}" for i in range(1, 6)],
            "detailed_content": " ".join(_para(t, i) for i in range(4)),
            "practice_exercises": [f"Exercise {i}: apply {t} to a new case." for i in range(1, 4)],
            "assessment_questions": [f"What is the role of part {i} in {t}?" for i in range(1, 6)],
            "summary": _para(t, 7),
        },
        "one_pager_summary": {
            "title": f"{t} on one page", "executive_summary": _para(t, 1)[:300],
            "key_takeaways": [f"Takeaway {i} about {t}" for i in range(1, 4)], "main_content": _para(t, 2),
        },
        "detailed_reading_material": {
            "title": f"Reading: {t}", "introduction": _para(t, 0),
            "sections": [{"title": f"Section {i}", "content": _para(t, i) * 2} for i in range(1, 4)],
            "conclusion": _para(t, 5), "references": ["OpenStax Biology 2e, chapter 8"],
        },
        "faq_collection": {
            "title": f"FAQ: {t}",
            "items": [{"question": f"What is question {i} about {t}?", "answer": _para(t, i), "category": "basics"}
                      for i in range(1, 6)],
        },
        "flashcards": {
            "title": f"Flashcards: {t}",
            "items": [{"term": f"Term {i}", "definition": f"Definition {i} of a term used in {t}.",
                       "difficulty": ("easy", "medium", "hard")[i % 3]} for i in range(1, 11)],
        },
        "reading_guide_questions": {
            "title": f"Reading guide: {t}",
            "questions": [f"How does idea {i} of {t} connect to what you know?" for i in range(1, 6)],
        },
    }
    doc = docs[content_type]
    content_types.validate(content_type, doc)  # a broken sample must fail loudly, not test something else
    return doc


def content_type_of(payload: dict[str, Any] | None) -> str | None:
    """Which content type a provider request asks for, from the JSON Schema it carries."""
    if not payload:
        return None
    candidates = [
        (payload.get("response_format") or {}).get("json_schema", {}).get("schema"),
        ((payload.get("tools") or [{}])[0]).get("input_schema"),
        (payload.get("generationConfig") or {}).get("responseJsonSchema"),
    ]
    for schema in candidates:
        if schema:
            for ctype in content_types.CONTENT_TYPES:
                if content_types.json_schema(ctype) == schema:
                    return ctype
    return None


def sound(content_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(a request body, a document that passes the real gate for it): the first English must-pass
    document of tests/quality_corpus for `content_type`."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent.parent / "quality_corpus" / f"{content_type}.json").read_text())
    entry = next(e for e in data["must_pass"] if e["language"] == "en")
    body = {"content_type": content_type, "topic": entry["topic"], "audience": entry["audience"],
            "learning_objectives": entry["learning_objectives"]}
    return body, entry["content"]
