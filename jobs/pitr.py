"""Point-in-time recovery through pgBackRest: base backups, the WAL archive's check, restoring a cluster.

Why pgBackRest (Debian `pgbackrest`) rather than Barman's cloud tools or
WAL-G: it archives WAL and takes base backups to an S3-compatible bucket with
its own client-side encryption (`repo1-cipher-type=aes-256-cbc`), checks the
whole archive with `pgbackrest verify`, restores to a time with one command,
and is packaged by Debian and by the PostgreSQL images we deploy. This module
never archives anything itself: PostgreSQL's `archive_command` calls
`pgbackrest archive-push` (the database service's image, `.railway/postgres/`).

pgBackRest is configured the way it documents (its config file or
`PGBACKREST_*` variables: bucket, endpoint, cipher pass); the project only
names the stanza (`PITR_STANZA`). PostgreSQL's server tools refuse to run as
root, so when this process is root the tools run as the `postgres` user.
Messages never carry passwords or data (pgBackRest's last stderr line only).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

CLUSTER_USER = "postgres"


class PitrError(RuntimeError):
    """pgBackRest or a PostgreSQL server tool failed; the message is safe to show."""


def _as_cluster_user(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", CLUSTER_USER, "--", *args]
    return args


def pg_tool(name: str) -> str:
    """Path of a PostgreSQL server tool (`pg_ctl`, `initdb`): on PATH, else Debian's newest version."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise PitrError(f"{name} is not installed (PostgreSQL server tools are needed to restore a cluster)")
    return candidates[-1]


def _run(args: list[str], what: str, timeout: float = 3600) -> str:
    if shutil.which(args[0]) is None and not os.path.isabs(args[0]):
        raise PitrError(f"{args[0]} is not installed")
    try:
        proc = subprocess.run(_as_cluster_user(args), capture_output=True, text=True, errors="replace",
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PitrError(f"{what} timed out") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() + proc.stdout.strip().splitlines()
                 if "ERROR" in ln] or proc.stderr.strip().splitlines() or ["no message"]
        raise PitrError(f"{what} failed (exit {proc.returncode}): {lines[-1].strip()[:300]}")
    return proc.stdout


def pgbackrest(stanza: str, *args: str, what: str | None = None, timeout: float = 3600) -> str:
    return _run(["pgbackrest", f"--stanza={stanza}", *args], what or f"pgbackrest {args[0]}", timeout)


@dataclass(frozen=True)
class ArchiveInfo:
    """What the repository holds: base backups and the newest WAL segment archived."""

    backups: int
    newest_backup_at: datetime | None
    wal_max: str | None


def info(stanza: str) -> ArchiveInfo:
    """`pgbackrest info --output=json` of the stanza (raises PitrError when the repository is unreadable)."""
    try:
        data = json.loads(pgbackrest(stanza, "info", "--output=json"))[0]
    except (ValueError, IndexError, KeyError):
        raise PitrError("pgbackrest info: unreadable output") from None
    if data.get("status", {}).get("code") not in (0, 2):  # 2: no backups yet
        raise PitrError(f"pgbackrest info: {data.get('status', {}).get('message', 'unknown status')}")
    backups = data.get("backup") or []
    newest = max((b["timestamp"]["stop"] for b in backups), default=None)
    archive = (data.get("archive") or [{}])[-1]
    return ArchiveInfo(len(backups), datetime.fromtimestamp(newest, timezone.utc) if newest else None,
                       archive.get("max"))


def base_backup(stanza: str, kind: str = "full") -> ArchiveInfo:
    """A base backup ("full", "diff" or "incr") of the stanza's cluster into its repository."""
    pgbackrest(stanza, "backup", f"--type={kind}", what="pgbackrest backup")
    return info(stanza)


_SEGMENT = re.compile(r"([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})-[0-9a-f]{40}")
SEGMENTS_PER_LOG = 0x100  # with PostgreSQL's default 16 MB wal_segment_size (fixed at initdb)


def wal_gaps(names: list[str]) -> list[str]:
    """Segments missing between the first and last archived segment of each timeline (pure)."""
    by_timeline: dict[str, set[int]] = {}
    for name in names:
        m = _SEGMENT.search(name)
        if m:
            by_timeline.setdefault(m.group(1), set()).add(int(m.group(2), 16) * SEGMENTS_PER_LOG + int(m.group(3), 16))
    missing = []
    for timeline, numbers in sorted(by_timeline.items()):
        for n in range(min(numbers), max(numbers)):
            if n not in numbers:
                missing.append(f"{timeline}{n // SEGMENTS_PER_LOG:08X}{n % SEGMENTS_PER_LOG:08X}")
    return missing


def verify_archive(stanza: str) -> None:
    """The WAL chain is unbroken: pgBackRest's own verify (every backup and segment against its checksum)
    passes, and no segment is missing between the first and the last one archived on each timeline
    (verify checks the files it finds; a deleted segment is only seen as a gap)."""
    report = pgbackrest(stanza, "verify", "--output=text", "--verbose", what="pgbackrest verify")
    statuses = [ln.split(":", 1)[1].strip() for ln in report.splitlines() if ln.startswith("status:")]
    if statuses != ["ok"]:
        bad = [ln.strip() for ln in report.splitlines() if "status:" in ln and not ln.strip().endswith("ok")]
        raise PitrError("pgbackrest verify: " + ("; ".join(bad) or "no status reported")[:300])
    listing = json.loads(pgbackrest(stanza, "repo-ls", "--recurse", "--output=json", f"archive/{stanza}",
                                    what="pgbackrest repo-ls"))
    gaps = wal_gaps(list(listing))
    if gaps:
        raise PitrError(f"WAL archive has {len(gaps)} missing segment(s), first {gaps[0]}")


def _prepare_dir(data_dir: Path) -> None:
    if data_dir.exists() and any(data_dir.iterdir()):
        raise PitrError(f"{data_dir} is not empty; a cluster is restored into a new directory")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(data_dir, CLUSTER_USER, CLUSTER_USER)


def restore_cluster(stanza: str, data_dir: Path, to_time: datetime | None) -> None:
    """Restore the stanza's cluster into `data_dir` as it was at `to_time` (None: the newest archived WAL).

    The restored cluster promotes itself at the target and starts its own timeline.
    """
    _prepare_dir(data_dir)
    args = ["restore", f"--pg1-path={data_dir}"]
    if to_time is not None:  # without a target, recovery replays every archived segment, then promotes
        stamp = to_time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        args += ["--type=time", f"--target={stamp}", "--target-action=promote"]
    pgbackrest(stanza, *args, what="pgbackrest restore")


def start_cluster(data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
    """Start a restored cluster on `port` with archiving off (it must never write into the stanza it came
    from); returns once it accepts connections, i.e. once recovery has replayed to the target."""
    settings = f"-p {port} -c listen_addresses={host} -c archive_mode=off -c unix_socket_directories={data_dir}"
    _run([pg_tool("pg_ctl"), "-D", str(data_dir), "-l", str(data_dir / "restore.log"), "-o", settings,
          "-w", "-t", "600", "start"], "pg_ctl start", timeout=660)


def wait_promoted(url: str, timeout: float = 600) -> None:
    """Wait until the restored cluster has replayed to its target and promoted itself (writable).

    `pg_ctl start -w` returns as soon as read-only connections are accepted, which is during recovery.
    """
    import time

    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from shared.database import make_engine

    engine = make_engine(url, pool_size=1)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as conn:
                    if not conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
                        return
            except OperationalError:
                pass  # the server restarts its connections while it promotes
            if time.monotonic() > deadline:
                raise PitrError(f"the restored cluster did not finish recovery within {timeout:.0f} s")
            time.sleep(0.2)
    finally:
        engine.dispose()


def stop_cluster(data_dir: Path) -> None:
    _run([pg_tool("pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"], "pg_ctl stop", timeout=120)


@contextlib.contextmanager
def scratch_cluster(stanza: str, to_time: datetime | None, port: int) -> Iterator[Path]:
    """A cluster restored into a temporary directory and started on `port`; stopped and removed after."""
    root = Path(tempfile.mkdtemp(prefix="lf-pitr-"))
    if os.geteuid() == 0:
        shutil.chown(root, CLUSTER_USER, CLUSTER_USER)
    data_dir = root / "data"
    started = False
    try:
        restore_cluster(stanza, data_dir, to_time)
        start_cluster(data_dir, port)
        started = True
        yield data_dir
    finally:
        if started:
            with contextlib.suppress(PitrError):
                stop_cluster(data_dir)
        shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
