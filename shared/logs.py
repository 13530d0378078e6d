"""Structured JSON logs on stderr, with the request id and secrets redacted.

Redaction is a last line of defence: code should not log secrets or personal
data at all, but a formatter that scrubs API keys, provider keys, bearer
tokens, passwords in URLs and email addresses keeps a mistake from leaking.

Tracebacks carry the exception types and the frames, never the exceptions'
messages (`safe_traceback`): a message can quote the row that failed (a
database error's DETAIL names the key and its values: a user id, a topic, a
document), which no pattern can recognise as personal. The request id and the
route say which request it was; the code path says what failed.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import Settings
    from shared.settings.environment import Environment

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


def safe_traceback(error: BaseException) -> str:
    """`error`'s chain (causes and contexts, oldest first) as exception types and frames, without
    any exception's message."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = []
    for exc in reversed(chain):
        kind = type(exc)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        parts.append("Traceback (most recent call last):\n"
                     + "".join(traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__),
                                                              lookup_lines=False).format())
                     + f"{name} (message withheld)\n")
    return "During handling of the above exception:\n".join(parts)


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
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = safe_traceback(record.exc_info[1])
        return redact(json.dumps(entry, default=str))


@dataclass(frozen=True)
class LoggingConfig:
    """The root logger's `level` (debug, info, warning, error)."""

    level: str = "info"

    @classmethod
    def of(cls, source: "Settings | Environment") -> "LoggingConfig":
        """From the settings, or before they load from the environment's `LOG_LEVEL`
        (`shared.settings.environment`: the first line of a process needs no pydantic)."""
        return cls(source.log_level)


_configured = False


def configure_logging(config: LoggingConfig, *, force: bool = False) -> None:
    """Install the JSON handler on the root logger once per process (`force`: again)."""
    global _configured
    if _configured and not force:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.level.upper())
    for noisy in ("alembic", "botocore", "urllib3", "httpx", "httpx2", "httpcore", "openai", "anthropic", "google_genai"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _configured = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
