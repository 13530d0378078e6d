"""The catalogue of content types: ids, names and generation limits, without the output models.

Kept apart from `content_types` (the pydantic output models, ~0.1 s to build)
so routing, request validation and rate weights load at cold start without
building every output schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

ContentTypeId = Literal[
    "master_content_outline", "podcast_script", "study_guide", "one_pager_summary",
    "detailed_reading_material", "faq_collection", "flashcards", "reading_guide_questions",
]


@dataclass(frozen=True)
class TypeInfo:
    id: str
    name: str
    description: str
    max_output_tokens: int  # per provider call; also the worst case a budget reserves
    rate_weight: int  # relative cost for rate limiting (long types cost more)


# Rate weights follow the old per-5-minute limits (flashcards 15 ... podcast 3): weight ~ 15 / limit.
CATALOG: dict[str, TypeInfo] = {
    t.id: t
    for t in (
        TypeInfo("master_content_outline", "Master content outline",
                 "A course outline: overview, 3-10 learning objectives and 3-15 numbered sections with key points.",
                 4096, 3),
        TypeInfo("podcast_script", "Podcast script",
                 "An educational podcast episode: introduction, main content, conclusion and speaker notes.",
                 8192, 5),
        TypeInfo("study_guide", "Study guide",
                 "Objectives, key concepts, detailed content, practice exercises, assessment questions and a summary.",
                 8192, 2),
        TypeInfo("one_pager_summary", "One-pager summary",
                 "An executive summary, 3-7 key takeaways and a short main text on one page.", 2048, 2),
        TypeInfo("detailed_reading_material", "Detailed reading material",
                 "Long-form reading: introduction, 3-10 sections, conclusion and references.", 8192, 3),
        TypeInfo("faq_collection", "FAQ collection",
                 "5-15 frequently asked questions with answers, grouped by category.", 4096, 2),
        TypeInfo("flashcards", "Flashcards", "10-25 term/definition cards, each marked easy, medium or hard.", 4096, 1),
        TypeInfo("reading_guide_questions", "Reading guide questions",
                 "5-15 questions that guide a reader through the topic.", 2048, 1),
    )
}
CONTENT_TYPE_IDS: tuple[str, ...] = tuple(CATALOG)
assert CONTENT_TYPE_IDS == get_args(ContentTypeId)
