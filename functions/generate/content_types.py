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

from functions.generate.catalog import CATALOG, CONTENT_TYPE_IDS, ContentTypeId, TypeInfo  # noqa: F401 (re-exported)

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
    """A content type as the API publishes it: catalogue entry plus its output model."""

    info: TypeInfo
    model: type[_Output]

    def __getattr__(self, name: str) -> Any:  # id, name, description, max_output_tokens, rate_weight
        if name == "info":  # not initialised yet (copy, pickle): avoid recursing
            raise AttributeError(name)
        return getattr(self.info, name)

    def schema(self) -> dict[str, Any]:
        return json_schema(self.info.id)


_MODELS: dict[str, type[_Output]] = {
    "master_content_outline": MasterContentOutline,
    "podcast_script": PodcastScript,
    "study_guide": StudyGuide,
    "one_pager_summary": OnePagerSummary,
    "detailed_reading_material": DetailedReadingMaterial,
    "faq_collection": FaqCollection,
    "flashcards": Flashcards,
    "reading_guide_questions": ReadingGuideQuestions,
}
CONTENT_TYPES: dict[str, ContentType] = {tid: ContentType(info, _MODELS[tid]) for tid, info in CATALOG.items()}


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
