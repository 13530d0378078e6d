"""Reusable pydantic field types for user-supplied text.

Every free-text field goes through `text_field` (`SafeLine` for a one-line name). Surrounding
whitespace is trimmed, then the text is refused with 422 when it holds:

- C0 and C1 control characters (category Cc, null bytes included; tab, line
  feed and carriage return are allowed in multi-line fields): they break logs,
  terminals and some databases;
- format characters (category Cf: zero-width spaces and joiners, word joiners,
  soft hyphens, the byte-order mark, bidi embeddings, overrides and isolates):
  invisible, they make a text display differently from what it is ("Trojan
  Source" tricks) or look empty while being long;
- line and paragraph separators (U+2028, U+2029) and lone surrogates.

Lengths count visible characters: combining marks (categories Mn, Me, such as
an accent or a variation selector written after its letter) add nothing, so
"é" is one character however it is encoded. A field accepts at most four code
points per visible character, so stacked marks cannot grow a text without bound.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MULTILINE_CONTROLS = frozenset("\t\n\r")
_INVISIBLE_MARKS = frozenset({"Mn", "Me"})
CODE_POINTS_PER_CHARACTER = 4


def refused_character(value: str, *, multiline: bool) -> str | None:
    """The first character `value` must not hold, or None."""
    if value.isprintable():  # fast path: no Cc, Cf, Cs, Zl or Zp at all
        return None
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES and not (multiline and ch in _MULTILINE_CONTROLS):
            return ch
    return None


def visible_length(value: str) -> int:
    """Characters a reader sees: code points minus combining marks."""
    if value.isascii():
        return len(value)
    return sum(1 for ch in value if unicodedata.category(ch) not in _INVISIBLE_MARKS)


def _checker(min_length: int, max_length: int, multiline: bool) -> Callable[[str], str]:
    def check(value: str) -> str:
        ch = refused_character(value, multiline=multiline)
        if ch is not None:
            kind = "control" if unicodedata.category(ch) == "Cc" else "invisible formatting"
            raise PydanticCustomError(
                "text_refused_character",
                "must not contain {kind} characters (U+{code}){lines}",
                {"kind": kind, "code": f"{ord(ch):04X}", "lines": "" if multiline else "; one line only"})
        n = visible_length(value)
        if n < min_length:
            raise PydanticCustomError("string_too_short", "should have at least {min_length} visible "
                                      "character{s}", {"min_length": min_length, "s": "" if min_length == 1 else "s"})
        if n > max_length or len(value) > max_length * CODE_POINTS_PER_CHARACTER:
            raise PydanticCustomError("string_too_long", "should have at most {max_length} visible characters",
                                      {"max_length": max_length})
        return value

    return check


def text_field(min_length: int = 0, max_length: int = 1000, *, multiline: bool = True) -> Any:
    """An annotated `str` type: trimmed, free of control and format characters, its visible
    length within [min_length, max_length].

    Returns `Annotated[str, ...]` built at run time for pydantic; no static type spells a type
    made by a call, hence `Any`."""
    rule = "" if multiline else "One line. "
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True),
        AfterValidator(_checker(min_length, max_length, multiline)),
        WithJsonSchema({
            "type": "string", "minLength": min_length, "maxLength": max_length,
            "description": f"{rule}Trimmed; lengths count visible characters (combining marks add none); "
                           "control and format characters (Unicode Cc, Cf) are refused.",
        }),
    ]


SafeLine = text_field(1, 200, multiline=False)
Rating = Annotated[int, Field(ge=1, le=5, strict=True)]
