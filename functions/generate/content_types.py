"""The 8 content types: one pydantic output model each, with DESIGN.md's counts as hard limits.

These models are the single source of truth for a type's shape: the JSON
Schema served by `GET /v1/content-types`, the schema sent to providers as a
structured-output format, and the validation of every provider response all
come from here. Counts (sections, items, questions...) are enforced by the
schema; softer length guidance is left to the quality gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000, pattern=r"\?$")]


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutlineSection(_Output):
    section_number: int = Field(ge=1, le=15)
    title: Short
    description: Text
    key_points: list[Short] = Field(min_length=1, max_length=12)


class MasterContentOutline(_Output):
    title: Short
    overview: Text
    learning_objectives: list[Short] = Field(min_length=3, max_length=10)
    sections: list[OutlineSection] = Field(min_length=3, max_length=15)

    @model_validator(mode="after")
    def _numbered_from_one(self) -> "MasterContentOutline":
        numbers = [s.section_number for s in self.sections]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("sections must be numbered 1, 2, 3... in order")
        return self


class PodcastScript(_Output):
    title: Short
    introduction: Text
    main_content: Text
    conclusion: Text
    speaker_notes: Text
    estimated_duration_minutes: float = Field(gt=0, le=180)


class StudyGuide(_Output):
    title: Short
    overview: Text
    learning_objectives: list[Short] = Field(min_length=3, max_length=8)
    key_concepts: list[Short] = Field(min_length=5, max_length=20)
    detailed_content: Text
    practice_exercises: list[Text] = Field(min_length=3, max_length=10)
    assessment_questions: list[Text] = Field(min_length=5, max_length=15)
    summary: Text


class OnePagerSummary(_Output):
    title: Short
    executive_summary: Text
    key_takeaways: list[Short] = Field(min_length=3, max_length=7)
    main_content: Text


class ReadingSection(_Output):
    title: Short
    content: Text


class DetailedReadingMaterial(_Output):
    title: Short
    introduction: Text
    sections: list[ReadingSection] = Field(min_length=3, max_length=10)
    conclusion: Text
    references: list[Short] = Field(max_length=30)


class FaqItem(_Output):
    question: Question
    answer: Text
    category: Short


class FaqCollection(_Output):
    title: Short
    items: list[FaqItem] = Field(min_length=5, max_length=15)


class Flashcard(_Output):
    term: Short
    definition: Text
    difficulty: Literal["easy", "medium", "hard"]


class Flashcards(_Output):
    title: Short
    items: list[Flashcard] = Field(min_length=10, max_length=25)


class ReadingGuideQuestions(_Output):
    title: Short
    questions: list[Question] = Field(min_length=5, max_length=15)

    @field_validator("questions")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len({q.lower() for q in value}) != len(value):
            raise ValueError("questions must be distinct")
        return value


@dataclass(frozen=True)
class ContentType:
    """A content type as the API publishes it, with generation limits."""

    id: str
    name: str
    description: str
    model: type[_Output]
    max_output_tokens: int  # per provider call; also the worst case a budget reserves
    rate_weight: int  # relative cost for rate limiting (long types cost more)

    def schema(self) -> dict[str, Any]:
        return json_schema(self.id)


CONTENT_TYPES: dict[str, ContentType] = {
    t.id: t
    for t in (
        ContentType("master_content_outline", "Master content outline",
                    "A course outline: overview, 3-10 learning objectives and 3-15 numbered sections with key points.",
                    MasterContentOutline, 4096, 3),
        ContentType("podcast_script", "Podcast script",
                    "An educational podcast episode: introduction, main content, conclusion and speaker notes.",
                    PodcastScript, 8192, 5),
        ContentType("study_guide", "Study guide",
                    "Objectives, key concepts, detailed content, practice exercises, assessment questions and a summary.",
                    StudyGuide, 8192, 2),
        ContentType("one_pager_summary", "One-pager summary",
                    "An executive summary, 3-7 key takeaways and a short main text on one page.",
                    OnePagerSummary, 2048, 2),
        ContentType("detailed_reading_material", "Detailed reading material",
                    "Long-form reading: introduction, 3-10 sections, conclusion and references.",
                    DetailedReadingMaterial, 8192, 3),
        ContentType("faq_collection", "FAQ collection",
                    "5-15 frequently asked questions with answers, grouped by category.",
                    FaqCollection, 4096, 2),
        ContentType("flashcards", "Flashcards",
                    "10-25 term/definition cards, each marked easy, medium or hard.",
                    Flashcards, 4096, 1),
        ContentType("reading_guide_questions", "Reading guide questions",
                    "5-15 questions that guide a reader through the topic.",
                    ReadingGuideQuestions, 2048, 1),
    )
}
CONTENT_TYPE_IDS: tuple[str, ...] = tuple(CONTENT_TYPES)
ContentTypeId = Literal[
    "master_content_outline", "podcast_script", "study_guide", "one_pager_summary",
    "detailed_reading_material", "faq_collection", "flashcards", "reading_guide_questions",
]


def get(content_type: str) -> ContentType:
    return CONTENT_TYPES[content_type]


@cache
def json_schema(content_type: str) -> dict[str, Any]:
    """The type's JSON Schema (draft 2020-12, as pydantic emits it); cached, treat as read-only."""
    return CONTENT_TYPES[content_type].model.model_json_schema(mode="validation")


def validate(content_type: str, data: Any) -> dict[str, Any]:
    """Validate provider output; returns the normalised document or raises pydantic's ValidationError."""
    model = CONTENT_TYPES[content_type].model
    return model.model_validate(data).model_dump(mode="json")
