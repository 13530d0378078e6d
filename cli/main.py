"""`factoria`: the operator's command line (contract in DESIGN.md).

Each sub-command lives in its own module under `cli/` and registers itself
with `register(subparsers)`; this module only assembles them. Output meant
for machines goes to stdout, logs to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    # What each command module's `register` receives: the top-level parser's sub-commands.
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

COMMAND_MODULES = ("cli.db", "cli.users", "cli.keys", "cli.dev", "cli.jobs", "cli.backup", "cli.alerts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factoria",
        description="La Factoria operations: database, users and keys, local dev server, jobs, backups.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:  # a static registry: a missing module is an error, never skipped
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; bad settings exit 2 and an unreachable database exit 3, each with
    one line on stderr (shared.exits), never a traceback."""
    from shared.exits import classify
    from shared.logs import LoggingConfig, configure_logging
    from shared.settings import get_settings

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from shared.database import use_statement_timeout

        # Every command validates the whole configuration first, and runs with the jobs' bound.
        settings = get_settings()
        configure_logging(LoggingConfig.of(settings))
        use_statement_timeout(settings.job_statement_timeout_ms)
        code = args.func(args)
    except Exception as exc:
        known = classify(exc)
        if known is None:
            raise
        print(f"factoria: {known[1]}", file=sys.stderr)
        return known[0]
    finally:
        from shared.database import dispose_engines

        dispose_engines()
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
