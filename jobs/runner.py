"""The job runner: lease, ledger, summary line, exit codes (contract in DESIGN.md).

A job is a module `jobs/<name with underscores>.py` defining
`run(ctx: JobContext) -> JobResult`, and optionally `add_arguments(group)` to
declare its own flags (argparse; their values arrive in `ctx.options`). The runner:

- holds the job's lease (a `job_leases` row, jobs/lease.py) so overlapping runs
  never both work; a run that lost its lease midway reports `lease_lost: true`
  and at least a problem (exit 1), since another run may have overlapped it,
- records the run in `job_runs` (running, then ok / problem / error / skipped),
- prints a one-line JSON summary as the last line of stdout,
- exits 0 (healthy), 1 (ran and found a problem), 2 (bad usage or
  configuration), 3 (could not run: lease held, database unreachable, crash),
- disposes every connection before returning, so Railway cron sees the
  process end.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from shared.job_schedule import JOBS
from shared.logs import LoggingConfig, configure_logging, get_logger
from shared.settings.environment import read_environment

if TYPE_CHECKING:
    from jobs.progress import Stages

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
T = TypeVar("T")
log = get_logger("lafactoria.jobs")


class JobConfigError(Exception):
    """Bad usage or configuration: exit 2."""


class JobUnavailable(Exception):
    """A dependency the job needs is unreachable: exit 3."""


@dataclass
class JobResult:
    """`status` is "ok" (exit 0) or "problem" (exit 1); `summary` goes into the ledger and stdout."""

    status: str = "ok"
    summary: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, **summary: Any) -> "JobResult":
        return cls("ok", summary)

    @classmethod
    def problem(cls, **summary: Any) -> "JobResult":
        return cls("problem", summary)


class JobContext:
    """What a job gets: flags, settings, logging, progress bars, alerts, checkpoints."""

    def __init__(self, name: str, run_id: str, *, dry_run: bool, json_output: bool,
                 options: dict[str, Any] | None = None) -> None:
        from shared.settings import get_settings

        self.name = name
        self.run_id = run_id
        self.dry_run = dry_run
        self.json_output = json_output
        self.options = dict(options or {})  # the job's own flags (`add_arguments`), by dest name
        self.settings = get_settings()
        self.log = get_logger(f"lafactoria.jobs.{name}")

    def progress(self, iterable: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
        """A progress bar on an interactive terminal; plain iteration (JSON logs) otherwise."""
        from jobs.progress import iterate, on_terminal

        return iterate(iterable, total=total, desc=desc or self.name, enabled=on_terminal(self.json_output))

    def stages(self, names: list[str]) -> Stages:
        """A step-per-stage progress bar on an interactive terminal (see jobs.progress.Stages)."""
        from jobs.progress import Stages, on_terminal

        return Stages(names, desc=self.name, enabled=on_terminal(self.json_output))

    def emit(self, record: dict[str, Any]) -> None:
        """Extra output for the operator on stdout (JSON with --json), before the summary line."""
        if self.json_output:
            print(json.dumps(record, default=str), flush=True)
        else:
            print(" ".join(f"{k}={v}" for k, v in record.items()), flush=True)

    def alert(self, rule: str, severity: str, message: str, details: dict[str, Any] | None = None) -> None:
        from shared.alerts import raise_alert
        from shared.database import session_scope

        with session_scope() as session:
            raise_alert(session, rule, severity, message, details)

    def resolve(self, rule: str, message: str | None = None) -> None:
        from shared.alerts import resolve_alert
        from shared.database import session_scope

        with session_scope() as session:
            resolve_alert(session, rule, message)

    def get_checkpoint(self, key: str) -> dict[str, Any] | None:
        from shared.database import session_scope
        from shared.models import JobCheckpoint

        with session_scope() as session:
            row = session.get(JobCheckpoint, (self.name, key))
            return dict(row.value) if row else None

    def set_checkpoint(self, key: str, value: dict[str, Any] | None, *, session: Any = None) -> None:
        """Store (or with None, clear) progress that survives a killed run.

        Pass the `session` of a unit of work to commit the checkpoint in the same
        transaction as the work it describes (a crash then loses both or neither).
        """
        from shared.database import session_scope
        from shared.models import JobCheckpoint

        with contextlib.nullcontext(session) if session is not None else session_scope() as session:
            row = session.get(JobCheckpoint, (self.name, key))
            if value is None:
                if row is not None:
                    session.delete(row)
            elif row is None:
                session.add(JobCheckpoint(job=self.name, key=key, value=value))
            else:
                row.value = value
            session.flush()


def module_name(job: str) -> str:
    return "jobs." + job.replace("-", "_")


def _record_start(name: str, dry_run: bool) -> str:
    from shared.database import session_scope
    from shared.models import JobRun

    with session_scope() as session:
        run = JobRun(job=name, status="running", dry_run=dry_run)
        session.add(run)
        session.flush()
        return run.id


def _record_end(run_id: str, status: str, exit_code: int, summary: dict[str, Any]) -> None:
    from shared.database import session_scope
    from shared.models import JobRun, utcnow

    with session_scope() as session:
        run = session.get(JobRun, run_id)
        if run is not None:
            run.status, run.exit_code, run.summary, run.finished_at = status, exit_code, summary, utcnow()


def _record_skipped(name: str, dry_run: bool, reason: str) -> str | None:
    from shared.database import session_scope
    from shared.models import JobRun, utcnow

    try:
        with session_scope() as session:
            run = JobRun(job=name, status="skipped", exit_code=EXIT_UNAVAILABLE, dry_run=dry_run,
                         finished_at=utcnow(), summary={"reason": reason})
            session.add(run)
            session.flush()
            return run.id
    except Exception:  # noqa: BLE001 - recording a skip must not mask the skip
        return None


def run_job(name: str, *, dry_run: bool = False, json_output: bool = False,
            options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """Run one job with lease and ledger; returns (exit code, summary).

    `options` are the job's own flags (what its `add_arguments` declares), by dest name.
    """
    from shared.database import dispose_engines

    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    base: dict[str, Any] = {"job": name, "dry_run": dry_run, "started_at": started.isoformat(timespec="seconds")}

    def finish(code: int, status: str, **extra: Any) -> tuple[int, dict[str, Any]]:
        summary = base | {"status": status, "exit_code": code,
                          "duration_s": round(time.monotonic() - t0, 3)} | extra
        return code, summary

    if name not in JOBS:
        return finish(EXIT_USAGE, "error", error=f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
    from shared.exits import classify
    from shared.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        return finish(EXIT_USAGE, "error", error=str(exc))
    from jobs import lease
    from shared.database import use_statement_timeout

    use_statement_timeout(settings.job_statement_timeout_ms)
    module = importlib.import_module(module_name(name))  # every name in JOBS has its module (tested)
    try:
        try:
            with lease.hold(name, settings.job_lease_seconds) as held:
                if held is None:
                    run_id = _record_skipped(name, dry_run, "another run holds the lease")
                    return finish(EXIT_UNAVAILABLE, "skipped", run_id=run_id, error="another run holds the lease")
                run_id = _record_start(name, dry_run)
                base["run_id"] = run_id
                ctx = JobContext(name, run_id, dry_run=dry_run, json_output=json_output, options=options)
                try:
                    result = module.run(ctx)
                except JobConfigError as exc:
                    code, summary = finish(EXIT_USAGE, "error", error=str(exc))
                except JobUnavailable as exc:
                    code, summary = finish(EXIT_UNAVAILABLE, "error", error=str(exc) or "unavailable")
                except ModuleNotFoundError as exc:
                    package = (exc.name or "").split(".")[0]
                    if package in ("", "shared", "functions", "jobs", "cli"):
                        raise
                    # A lean install (`make run`, a function's extra) has no job packages: say which.
                    code, summary = finish(EXIT_USAGE, "error", error=(
                        f"missing package {package!r}: jobs need the jobs extra "
                        "(pip install -c constraints.txt '.[jobs]')"))
                except Exception as exc:  # noqa: BLE001 - a crash is recorded, alerted and exits 3
                    known = classify(exc)
                    if known is not None:  # an outage or bad settings met mid-run: no traceback
                        raise
                    log.exception("job crashed", extra={"job": name})
                    code, summary = finish(EXIT_UNAVAILABLE, "error", error=f"crashed: {type(exc).__name__}")
                    with contextlib.suppress(Exception):
                        ctx.alert(f"job:{name}:crashed", "warning", f"Job {name} crashed ({type(exc).__name__})",
                                  {"run_id": run_id})
                else:
                    code = EXIT_OK if result.status == "ok" else EXIT_PROBLEM
                    code, summary = finish(code, result.status, **result.summary)
            if held.lost:  # known once the lease is released: another run may have overlapped this one
                code = max(code, EXIT_PROBLEM)
                status = "problem" if summary["status"] == "ok" else summary["status"]
                summary |= {"status": status, "exit_code": code, "lease_lost": True}
            _record_end(run_id, summary["status"], code, summary)
            return code, summary
        except Exception as exc:  # noqa: BLE001 - e.g. the database gone while taking the lease
            known = classify(exc)
            if known is None:
                raise
            speaks = getattr(module, "database_unreachable", None)
            if known[0] == EXIT_UNAVAILABLE and speaks is not None:
                # A job whose finding is the outage itself (alert-check): it ran, and found it.
                result = speaks(known[1], dry_run=dry_run, log=log)
                return finish(EXIT_OK if result.status == "ok" else EXIT_PROBLEM, result.status, **result.summary)
            return finish(known[0], "error", error=known[1])
    finally:
        dispose_engines()


def build_parser(prog: str = "python -m jobs", job: str | None = None) -> argparse.ArgumentParser:
    """The runner's parser; with `job`, also that job's own flags (its module's `add_arguments`)."""
    parser = _Parser(
        prog=prog,
        description="Run one scheduled job. The last line on stdout is a one-line JSON summary. "
        "Exit codes: 0 healthy, 1 problem found, 2 bad usage, 3 could not run. "
        "`NAME --help` lists a job's own flags.",
    )
    parser.add_argument("name", metavar="NAME", help="the job to run, one of: " + ", ".join(JOBS))
    parser.add_argument("--dry-run", action="store_true", help="report what would be done; change nothing")
    parser.add_argument("--json", action="store_true", help="make all output JSON")
    add_arguments = getattr(_job_module(job), "add_arguments", None) if job in JOBS else None
    if add_arguments is not None:
        add_arguments(parser.add_argument_group(f"{job} options"))
    return parser


def _job_module(name: str) -> ModuleType:
    return importlib.import_module(module_name(name))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # bad usage still ends with a JSON summary line
        self.print_usage(sys.stderr)
        print(json.dumps({"status": "error", "exit_code": EXIT_USAGE, "error": message}))
        sys.exit(EXIT_USAGE)


def main(argv: list[str] | None = None, prog: str = "python -m jobs") -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    first = next((a for a in argv if not a.startswith("-")), None)  # the job name, to add its own flags
    args = build_parser(prog, first).parse_args(argv)
    base = {"name", "dry_run", "json"}
    options = {k: v for k, v in vars(args).items() if k not in base}
    # Before the settings load (run_job loads them, and reports their errors as log lines too).
    configure_logging(LoggingConfig.of(read_environment()))
    code, summary = run_job(args.name, dry_run=args.dry_run, json_output=args.json, options=options)
    if code in (EXIT_USAGE, EXIT_UNAVAILABLE) and summary.get("error"):
        # The operator's one line; the JSON summary stays the last line on stdout.
        print(f"{prog}: {args.name}: {summary['error']}", file=sys.stderr, flush=True)
    print(json.dumps(summary, default=str), flush=True)
    return code
