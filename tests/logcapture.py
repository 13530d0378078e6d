"""Every log line of the test suite, checked for secrets and personal data.

Why a record factory and not a handler: `shared.logs.configure_logging`
replaces the root handlers, and its formatter redacts keys and emails. The
rule is that code must not log them at all (redaction is the last line of
defence), so the raw record (message, extra fields, exception text) is what
is checked, before any redaction. Logs of real `functions-framework` servers
(their stderr) are added when a server stops.

Checked for: API keys (`lf_...`), provider keys (the configured values and
the `sk-` / `AIza` shapes), passwords in URLs and the configured database
password, and any email address (users' emails are also tracked exactly).

Fault tests (`FAULT_TESTS` in tests/conftest.py: providers failing, databases
and Redis down, erasure mid-generation) are also checked for the personal data
an error record is most likely to quote: the id of every user and API key and
the topic of every item written during the test (`personal`), so an error
path that logs a request or a row fails the test that took it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback
from dataclasses import dataclass, field

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
SECRET_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "SECRET_KEY")
URL_ENV = ("DATABASE_URL", "REDIS_URL", "TEST_PG_ADMIN_URL", "BACKUP_URL", "S3_ENDPOINT_URL")
PATTERNS = {
    "API key": re.compile(r"lf_[0-9a-f]{12}_[A-Za-z0-9_\-]{20,}"),
    "provider key": re.compile(r"\bsk-(?:ant-)?[A-Za-z0-9_\-]{16,}|\bAIza[0-9A-Za-z_\-]{30,}"),
    "password in URL": re.compile(r"\b[a-z][a-z0-9+.\-]*://[^:/@\s\"']+:(?!\[REDACTED\])[^@\s\"'/]+@"),
    "email": re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
}


def find_leaks(lines: list[tuple[str, str]], exact: set[str]) -> list[str]:
    """Descriptions of every leak in `lines` ((source, text) pairs); never echoes the secret."""
    found = []
    for source, text in lines:
        for what, pattern in PATTERNS.items():
            if pattern.search(text):
                found.append(f"{what} in a log line from {source}")
        for secret in exact:
            if secret in text:
                found.append(f"a configured secret or a user's email in a log line from {source}")
                break
    return found


@dataclass
class LogCapture:
    lines: list[tuple[str, str]] = field(default_factory=list)
    exact: set[str] = field(default_factory=set)
    personal: set[str] = field(default_factory=set)  # ids and topics written during the current test
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _installed: bool = False

    def install(self) -> None:
        if self._installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            record = previous(*args, **kwargs)
            try:
                self._remember_env()
                self.add(f"logger {record.name}", _raw_text(record))
            except Exception:  # pragma: no cover - capture must never break logging
                pass
            return record

        logging.setLogRecordFactory(factory)
        self._track_user_emails()
        self._installed = True

    def add(self, source: str, text: str) -> None:
        with self._lock:
            self.lines.append((source, text))

    def add_secret(self, value: str | None) -> None:
        if value and len(value) >= 8:
            with self._lock:
                self.exact.add(value)

    def scan_and_clear(self, *, personal: bool = False) -> list[str]:
        """Leaks in everything captured since the last call; forgets those lines (and, with
        `personal`, also checks for the ids and topics written since, then forgets them)."""
        self._remember_env()
        with self._lock:
            lines, self.lines = self.lines, []
            exact = set(self.exact)
            written, self.personal = self.personal, set()
        found = find_leaks(lines, exact)
        if personal:
            found += [f"a user id, key id or topic in a log line from {source}"
                      for source, text in lines if any(value in text for value in written)]
        return found

    def _remember_env(self) -> None:
        for name in SECRET_ENV:
            self.add_secret(os.environ.get(name))
        for name in URL_ENV:
            url = os.environ.get(name) or ""
            match = re.match(r"^[a-z][a-z0-9+.\-]*://[^:/@]+:([^@]+)@", url)
            if match:
                self.add_secret(match.group(1))

    def _track_user_emails(self) -> None:
        from sqlalchemy import event

        from shared.models import User

        def remember(_mapper, _connection, target) -> None:
            self.add_secret(target.email)

        event.listen(User, "before_insert", remember)
        event.listen(User, "before_update", remember)

        from shared.models import ApiKey, ContentItem

        def personal(*values: str | None) -> None:
            with self._lock:
                self.personal.update(v for v in values if v and len(v) >= 8)

        event.listen(User, "after_insert", lambda _m, _c, target: personal(target.id))
        event.listen(ApiKey, "after_insert", lambda _m, _c, target: personal(target.id))
        event.listen(ContentItem, "after_insert", lambda _m, _c, target: personal(target.topic))


def _raw_text(record: logging.LogRecord) -> str:
    try:
        parts = [record.getMessage()]
    except Exception:  # noqa: BLE001 - a bad format string still gets checked
        parts = [str(record.msg), repr(record.args)]
    parts += [f"{k}={v}" for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")]
    if record.exc_info and record.exc_info[0] is not None:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


CAPTURE = LogCapture()
