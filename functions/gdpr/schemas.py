"""Request and response models of the gdpr function (validation and the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from shared.validation import SafeLine
from shared.wire_types import USD, UUIDString


def _email(value: str) -> str:
    from shared.identity import IdentityError, normalise_email

    try:
        return normalise_email(value)
    except IdentityError:
        raise ValueError("must be a valid email address") from None


Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]
if TYPE_CHECKING:  # a type made by a call is no static type: to the checker the field is a str
    DisplayName = str
else:
    DisplayName = SafeLine  # one line, trimmed, 1..200 visible characters


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErasureConfirmation(_Strict):
    """Erasure is irreversible, so the caller must type the confirmation phrase."""

    confirm: Literal["erase my data"]


class Rectification(_Strict):
    """Fields to correct (Art. 16); at least one. `display_name: null` clears the name."""

    email: Email | None = None
    display_name: DisplayName | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> "Rectification":
        if not self.model_fields_set:
            raise ValueError("give at least one of email, display_name")
        if "email" in self.model_fields_set and self.email is None:
            raise ValueError("email cannot be removed, only corrected")
        return self


class ConsentChange(_Strict):
    granted: StrictBool


class UserOut(BaseModel):
    id: UUIDString
    email: str
    display_name: str | None
    role: str
    restricted: bool
    created_at: datetime


class ConsentState(BaseModel):
    granted: bool
    updated_at: datetime | None


class ConsentsOut(BaseModel):
    consents: dict[str, ConsentState]


class ConsentOut(BaseModel):
    purpose: str
    granted: bool
    updated_at: datetime


class ErasureReceipt(BaseModel):
    erasure_id: UUIDString
    erased_at: datetime
    deleted: dict[str, int]
    verified: Literal[True]


class ExportApiKey(BaseModel):
    id: UUIDString
    prefix: str
    name: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ExportUser(BaseModel):
    id: UUIDString
    email: str
    display_name: str | None
    role: str
    restricted: bool
    restricted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    api_keys: list[ExportApiKey] = Field(description="the person's API keys (hashes are never exported)")


class ExportContentUsage(BaseModel):
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: USD | None


class ExportContent(BaseModel):
    id: UUIDString
    content_type: str
    topic: str
    audience: str
    language: str
    request: dict[str, Any] = Field(description="the generation request as sent")
    content: dict[str, Any] = Field(description="the generated document (its content type's schema)")
    quality: dict[str, Any] = Field(description="the quality report, as in the item's `quality`")
    provider: str
    model: str
    prompt_version: str
    usage: ExportContentUsage
    cached: bool
    attempts: int
    created_at: datetime


class ExportFeedback(BaseModel):
    id: UUIDString
    content_id: UUIDString
    rating: int
    comment: str | None
    created_at: datetime


class ExportUsage(BaseModel):
    """One provider call (or cache hit) billed to the person."""

    id: UUIDString
    content_id: UUIDString | None
    request_id: str | None
    content_type: str | None
    provider: str
    model: str
    attempt: int
    kind: str
    outcome: str
    generation_id: UUIDString | None
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    cache_write_1h_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: USD | None
    cost_avoided_usd: USD | None
    reserved_usd: USD | None
    cost_known: bool
    price_version: str | None
    latency_ms: float | None
    error: str | None
    created_at: datetime


class ExportConsentEvent(BaseModel):
    purpose: str
    granted: bool
    actor_role: str
    created_at: datetime


class ExportConsents(BaseModel):
    current: dict[str, ConsentState] = Field(description="every purpose, granted or not")
    history: list[ExportConsentEvent] = Field(description="every change, oldest first")


class ExportAuditEntry(BaseModel):
    id: UUIDString
    created_at: datetime
    action: str
    actor: str | None = Field(description='"self", or the role of the operator who acted')
    request_id: str | None
    count: int
    details: dict[str, Any]


class ExportDocument(BaseModel):
    """Everything held about the person (Art. 15, 20). Streamed; see docs/GDPR.md for each section."""

    format_version: str
    exported_at: datetime
    user: ExportUser
    content: list[ExportContent]
    feedback: list[ExportFeedback]
    usage: list[ExportUsage]
    consents: ExportConsents
    audit: list[ExportAuditEntry]
