"""Request and response models of the gdpr function (validation and the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from shared.validation import text_field

ERASURE_CONFIRMATION = "erase my data"


def _email(value: str) -> str:
    from shared.identity import IdentityError, normalise_email

    try:
        return normalise_email(value)
    except IdentityError:
        raise ValueError("must be a valid email address") from None


Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]
DisplayName = text_field(1, 200, multiline=False)


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
    id: str
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
    erasure_id: str
    erased_at: datetime
    deleted: dict[str, int]
    verified: Literal[True]


class ExportDocument(BaseModel):
    """Everything held about the person (Art. 15, 20). Streamed; see docs/GDPR.md for each section."""

    format_version: str
    exported_at: datetime
    user: dict[str, Any]
    content: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    usage: list[dict[str, Any]]
    consents: dict[str, Any]
    audit: list[dict[str, Any]]
