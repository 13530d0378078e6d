"""Keyed pseudonyms (HMAC-SHA256 with SECRET_KEY) for audit and erasure records.

A pseudonym lets the audit log and erasure ledger refer to a person without
holding their id or email; only someone with the secret can link the two.
"""

from __future__ import annotations

import hashlib
import hmac

from shared.settings import get_settings


def pseudonym(value: str, *, secret: str | None = None) -> str:
    key = (secret or get_settings().secret_key).encode()
    return "p_" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:40]
