"""`factoria jobs run NAME [--dry-run] [--json]`: the same as `python -m jobs NAME`."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("jobs", help="run scheduled jobs by hand")
    jsub = p.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    r = jsub.add_parser("run", help="run one job (last stdout line: JSON summary)")
    r.add_argument("name", metavar="NAME")
    r.add_argument("--dry-run", action="store_true")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_run)


def _run(args) -> int:
    from jobs.runner import main

    argv = [args.name] + (["--dry-run"] if args.dry_run else []) + (["--json"] if args.json else [])
    return main(argv, prog="factoria jobs run")
