"""A provider's reply read as a document of the requested content type, or the reasons it is not one.

Pure: no I/O, no provider, no database. The reasons are written for the model:
they go into the one repair prompt (`prompts.repair`) when a reply is unusable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from functions.generate import content_types, sanitize
from functions.generate.providers import Completion


@dataclass(frozen=True)
class Parsed:
    """`content` when the reply is a valid document (sanitised), else None and `problems`; `raw` as replied."""

    content: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)
    raw: str = ""


def parse(content_type: str, completion: Completion) -> Parsed:
    """The reply in `completion` validated against `content_type`'s schema."""
    raw = completion.text or ""
    if completion.truncated:
        return Parsed(None, ["the reply was cut off at the output length limit; write a shorter document"], raw)
    data = completion.data
    if data is None:
        try:
            data = json_reply(raw)
        except ValueError:
            return Parsed(None, ["the reply was not valid JSON"], raw)
    if not isinstance(data, dict):
        return Parsed(None, ["the reply must be one JSON object"], raw)
    from pydantic import ValidationError

    try:
        return Parsed(content_types.validate(content_type, sanitize.clean(data)), [], raw)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}"
                    for e in exc.errors(include_url=False, include_input=False)]
        return Parsed(None, problems, raw)


def json_reply(text: str | None) -> Any:
    """The JSON in a model's text reply (Markdown fences tolerated); ValueError if it is not JSON."""
    text = (text or "").strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    return json.loads(text)
