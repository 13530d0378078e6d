"""`factoria`: the operator's command line (contract in DESIGN.md).

Each sub-command lives in its own module under `cli/` and registers itself
with `register(subparsers)`; this module only assembles them. Output meant
for machines goes to stdout, logs to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = ("cli.db", "cli.users", "cli.keys", "cli.dev", "cli.jobs", "cli.backup", "cli.alerts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factoria",
        description="La Factoria operations: database, users and keys, local dev server, jobs, backups.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # command not built in this release
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from shared.logs import configure_logging
    from shared.settings import UnsafeSettingsError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_logging()
        code = args.func(args)
    except UnsafeSettingsError as exc:
        print(f"factoria: {exc}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
