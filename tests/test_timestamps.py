"""`shared/timestamps.py`: the one reading of a stored time (`as_utc`) and the one writing of it (`iso`)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from shared.timestamps import as_utc, iso
from tests.conftest import ROOT

UTC_NOON = datetime(2026, 3, 10, 12, 0, 5, tzinfo=timezone.utc)


def test_as_utc_reads_what_the_databases_give_back():
    assert as_utc(None) is None
    assert as_utc(datetime(2026, 3, 10, 12, 0, 5)) == UTC_NOON  # SQLite: naive, meaning UTC
    assert as_utc(UTC_NOON) is UTC_NOON
    assert as_utc("2026-03-10 12:00:05") == UTC_NOON  # an aggregate as text
    assert as_utc("2026-03-10T12:00:05Z") == UTC_NOON
    assert as_utc("2026-03-10T13:00:05+01:00").tzinfo is not None


def test_iso_writes_utc_to_the_second():
    assert iso(None) is None
    assert iso(UTC_NOON + timedelta(microseconds=999)) == "2026-03-10T12:00:05+00:00"
    assert iso(datetime(2026, 3, 10, 12, 0, 5)) == "2026-03-10T12:00:05+00:00"  # naive: UTC
    plus_one = timezone(timedelta(hours=1))
    assert iso(datetime(2026, 3, 10, 13, 0, 5, tzinfo=plus_one)) == "2026-03-10T12:00:05+00:00"
    assert iso("2026-03-10T12:00:05Z") == "2026-03-10T12:00:05+00:00"


def test_no_part_keeps_a_private_copy():
    """A private `_iso`/`iso` helper or a hand-made "naive means UTC" outside shared/timestamps.py
    would be an eighth copy. The content API writes its items' own format (`Z`, microseconds: the
    wire format its clients already parse), which is not this one."""
    copies = re.compile(r"def _?iso\(|def _parse_time|\.tzinfo is None:\s*\n\s*\w+ = \w+\.replace\(tzinfo=timezone\.utc\)")
    found = [str(p.relative_to(ROOT)) for part in ("shared", "functions", "jobs", "cli")
             for p in (ROOT / part).rglob("*.py")
             if p.name != "timestamps.py" and copies.search(p.read_text())]
    found.remove("functions/generate/store.py")
    assert found == []
