"""Operators' exits: an operator's mistake or an outage becomes an exit code and one line.

Jobs and CLI commands pass any exception that escapes them through
`classify`: bad settings are exit 2, an unreachable database exit 3, each
with one line naming the cause (DESIGN "Operators' exits"). Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_USAGE, EXIT_UNAVAILABLE = 2, 3


def classify(exc: BaseException) -> tuple[int, str] | None:
    """`(exit code, one-line reason)` for an operator-facing failure; None for a bug."""
    from shared.settings import SettingsError

    if isinstance(exc, SettingsError):
        return EXIT_USAGE, str(exc)
    reason = database_failure(exc)
    if reason is not None:
        return EXIT_UNAVAILABLE, reason
    return None


def database_failure(exc: BaseException) -> str | None:
    """`database unreachable: <first line of the driver's error>` when `exc` is a connection
    failure (refused, timed out, dropped, unknown host or database, refused credentials)."""
    from shared.database import DatabaseUnavailable, is_outage

    if not is_outage(exc):  # the one outage check: a slow or bad statement is not "unreachable"
        return None
    cause = (exc.__cause__ or exc) if isinstance(exc, DatabaseUnavailable) else exc
    from shared.logs import redact

    text = str(getattr(cause, "orig", None) or cause).strip().splitlines()
    detail = redact(text[0]) if text else type(cause).__name__
    return f"database unreachable: {detail}"[:300]
