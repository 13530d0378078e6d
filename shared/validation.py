"""Reusable pydantic field types for user-supplied text.

Every free-text field goes through `SafeText`/`text_field`: control characters
and null bytes are refused with 422 (they break logs, terminals and some
databases), surrounding whitespace is trimmed, and lengths are bounded.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

# Bidi embedding/override/isolate controls (U+202A-202E, U+2066-2069) are refused too:
# they make text display differently from what it is ("Trojan Source" tricks).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\ufeff\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\ufeff\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters or null bytes")
    return value


def _single_line(value: str) -> str:
    if _CONTROL_SINGLE_LINE.search(value):
        raise ValueError("must be one line without control characters or null bytes")
    return value


def text_field(min_length: int = 0, max_length: int = 1000, *, multiline: bool = True):
    """An annotated `str` type: trimmed, bounded, free of control characters."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_control if multiline else _single_line),
    ]


SafeText = text_field(0, 1000)
SafeLine = text_field(1, 200, multiline=False)
Rating = Annotated[int, Field(ge=1, le=5, strict=True)]
