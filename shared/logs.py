"""Structured JSON logs on stderr, with the request id and secrets redacted.

Redaction is a last line of defence: code should not log secrets or personal
data at all, but a formatter that scrubs API keys, provider keys, bearer
tokens, passwords in URLs and email addresses keeps a mistake from leaking.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import datetime, timezone

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_REDACTIONS = [
    (re.compile(r"lf_[A-Za-z0-9]{6,}_[A-Za-z0-9_\-]{10,}"), "lf_[REDACTED]"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), "sk-[REDACTED]"),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"), "[REDACTED]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1[REDACTED]"),
    (re.compile(r"(?i)((?:api[_-]?key|password|secret|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&]+"), r"\1[REDACTED]"),
    (re.compile(r"(\w+://[^:/@\s]+:)[^@\s]+@"), r"\1[REDACTED]@"),
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "[EMAIL]"),
]

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


_configured = False


def configure_logging(level: str | None = None, *, force: bool = False) -> None:
    """Install the JSON handler on the root logger once per process."""
    global _configured
    if _configured and not force:
        return
    if level is None:
        # Read directly (not through Settings) so logging costs no pydantic import at cold start.
        import os

        level = os.environ.get("LOG_LEVEL", "info").strip().lower()
        if level not in ("debug", "info", "warning", "error"):
            level = "info"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("alembic", "botocore", "urllib3", "httpx", "httpx2", "httpcore", "openai", "anthropic", "google_genai"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _configured = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
