"""Output hygiene: every string a provider returns is stripped of HTML and script before use.

nh3 (Rust's ammonia) removes all tags, and drops `<script>`/`<style>` with
their content. It escapes `<`, `>` and `&` in plain text; we unescape so
"5 < 6" survives as text, then clean again until stable, so an entity-encoded
tag (`&lt;script&gt;`) cannot come back as markup after unescaping.
"""

from __future__ import annotations

import html
from typing import Any

_MAX_ROUNDS = 4


def clean_text(text: str) -> str:
    import nh3

    for _ in range(_MAX_ROUNDS):
        cleaned = html.unescape(nh3.clean(text, tags=set(), attributes={}, strip_comments=True))
        if cleaned == text:
            return cleaned
        text = cleaned
    # Still changing after several rounds: adversarial nesting. Keep the escaped (inert) form.
    return nh3.clean(text, tags=set(), attributes={}, strip_comments=True)


def clean(value: Any) -> Any:
    """A copy of `value` (JSON-like) with every string cleaned; keys are left as they are."""
    if isinstance(value, str):
        if "<" not in value and "&" not in value:
            return value  # fast path: nothing a sanitiser could change
        return clean_text(value)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value
