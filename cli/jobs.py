"""`factoria jobs run NAME [--dry-run] [--json] [JOB FLAGS]`: the same as `python -m jobs NAME`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cli.main import Subcommands


def register(sub: Subcommands) -> None:
    from shared.job_schedule import JOBS

    p = sub.add_parser("jobs", help="run scheduled jobs by hand")
    jsub = p.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    r = jsub.add_parser(
        "run", help="run one job (last stdout line: JSON summary)",
        description="Run one job as cron does. The last line on stdout is a one-line JSON summary; "
        "exit 0 healthy, 1 problem found, 2 bad usage, 3 could not run. "
        "`factoria jobs run NAME --help` lists that job's own flags.")
    r.add_argument("name", metavar="NAME", help="the job to run, one of: " + ", ".join(JOBS))
    r.add_argument("--dry-run", action="store_true", help="report what would be done; change nothing")
    r.add_argument("--json", action="store_true", help="make all output JSON")
    r.add_argument("job_args", nargs=argparse.REMAINDER, metavar="...",
                   help="the job's own flags, e.g. cost-report --from DATE --to DATE")
    r.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from jobs.runner import main

    argv = [args.name] + (["--dry-run"] if args.dry_run else []) + (["--json"] if args.json else [])
    return main(argv + list(args.job_args), prog="factoria jobs run")
