"""Request and response models of the generate function (validation and OpenAPI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.generate.catalog import ContentTypeId
from shared.validation import Rating, text_field
from shared.wire_types import USD, Timestamp, UUIDString

Audience = Literal["elementary", "middle_school", "high_school", "college", "adult_learning", "general"]
Language = Annotated[str, Field(min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]
if TYPE_CHECKING:  # a type made by a call is no static type: to the checker each field is a str
    Topic = str
    Objective = str
    Requirements = str
    Comment = str
else:
    Topic = text_field(3, 500, multiline=False)
    Objective = text_field(1, 500, multiline=False)
    Requirements = text_field(0, 1000)
    Comment = text_field(0, 2000)


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_type: ContentTypeId
    topic: Topic
    audience: Audience = "general"
    learning_objectives: list[Objective] = Field(default_factory=list, max_length=10)
    additional_requirements: Requirements | None = None
    language: Language = "en"


class Usage(BaseModel):
    input_tokens: int | None = Field(description="every input token billed, cached input included")
    output_tokens: int | None = Field(description="every output token billed, reasoning/thinking included")
    cached_input_tokens: int | None = Field(description="input tokens billed at the provider's cached rate")
    reasoning_tokens: int | None = Field(description="reasoning/thinking tokens (inside output_tokens)")
    cost_usd: USD | None = Field(description="US dollars; null when any attempt's cost is unknown (never reported as 0)")


class Reason(BaseModel):
    dimension: str = Field(description="the failing dimension (structure, readability, coverage, educational_value, "
                                       "engagement, factual)")
    finding: str = Field(description="what is wrong, in plain words (the same findings that drive regeneration)")


class Quality(BaseModel):
    overall: float = Field(ge=0, le=1)
    passed: bool
    dimensions: dict[str, float] = Field(description="each 0..1; a dimension listed in not_assessed is absent")
    thresholds: dict[str, float]
    factual_verified: bool = Field(False, description="false: no judge checked the claims; factual is the "
                                                      "offline screen (a neutral prior, evidence and red flags)")
    not_assessed: list[str] = Field(default_factory=list, description="dimensions with no valid method for "
                                                                      "this document (readability in a language without a formula)")
    judge: str | None = Field(None, description="the provider that reviewed the claims and teaching value, if any")
    reasons: list[Reason] = Field(default_factory=list, description="why the document failed, in plain words: at "
                                  "least one finding for each failing dimension, none for passing ones (empty "
                                  "when passed)")


class Item(BaseModel):
    id: UUIDString
    content_type: ContentTypeId
    topic: str
    audience: Audience
    content: dict[str, Any]
    quality: Quality
    provider: str
    model: str
    usage: Usage
    attempts: int = Field(ge=0, description="provider calls made for this item (retries and repairs included; "
                                           "0 when served from the generation cache)")
    cached: bool = Field(description="true when served from an earlier identical request (no provider cost)")
    created_at: Timestamp


class ItemSummary(BaseModel):
    """An item without its `content`: what `view=summary` lists."""

    id: UUIDString
    content_type: ContentTypeId
    topic: str
    audience: Audience
    quality: Quality
    provider: str
    model: str
    usage: Usage
    attempts: int = Field(ge=1)
    created_at: Timestamp


class ItemPage(BaseModel):
    items: list[Item] | list[ItemSummary] = Field(
        description="whole items; with `view=summary`, items without `content`")
    next_cursor: str | None


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-]+$")
    content_type: ContentTypeId | None = None
    view: Literal["full", "summary"] = Field("full", description="`summary` leaves out each item's `content`")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Rating
    comment: Comment | None = None


class FeedbackOut(BaseModel):
    id: UUIDString
    content_id: UUIDString
    rating: int = Field(ge=1, le=5)
    comment: str | None
    created_at: Timestamp


class ContentTypeInfo(BaseModel):
    id: ContentTypeId
    name: str
    description: str
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of this type's output")


class ContentTypeList(BaseModel):
    content_types: list[ContentTypeInfo]
