"""The job's knobs: its environment settings (COST_REPORT_*) and its flags (`--from`, `--to`), and the
period they name."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.runner import JobConfigError

MAX_PERIOD_DAYS = 400


class CostReportOptions(BaseSettings):
    """Operator knobs of this job (environment, prefix COST_REPORT_)."""

    model_config = SettingsConfigDict(env_prefix="COST_REPORT_", extra="ignore", frozen=True)

    day: date | None = None
    top_users: int = Field(10, ge=0, le=1000)
    include_user_ids: bool = False
    anomaly_factor: Decimal = Field(Decimal(2), gt=0)
    trailing_days: int = Field(7, ge=1, le=60)


def load_options() -> CostReportOptions:
    """The COST_REPORT_* settings; a bad one is a configuration error naming the setting (exit 2)."""
    from pydantic import ValidationError

    try:
        return CostReportOptions()
    except ValidationError as exc:
        raise JobConfigError(f"bad COST_REPORT_* setting: {exc.errors()[0]['loc'][0]}") from None


def add_arguments(group) -> None:
    """The job's own flags (see jobs.runner)."""
    group.add_argument("--from", dest="date_from", metavar="DATE", type=iso_date,
                       help="first UTC day of the period, YYYY-MM-DD (default: --to, else yesterday)")
    group.add_argument("--to", dest="date_to", metavar="DATE", type=iso_date,
                       help="last UTC day of the period, included, YYYY-MM-DD (default: --from, else yesterday)")


def iso_date(value: str) -> date:
    """A `YYYY-MM-DD` flag value (argparse's type: a bad one is a usage error)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _day_of(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise JobConfigError(f"not a date (YYYY-MM-DD): {value!r}") from None


def period(options: dict[str, Any], default_day: date | None) -> tuple[date, date]:
    """The report's (first, last) day from the job's flags; JobConfigError when they make no sense."""
    first, last = _day_of(options.get("date_from")), _day_of(options.get("date_to"))
    default = default_day or (datetime.now(timezone.utc).date() - timedelta(days=1))
    first, last = first or last or default, last or first or default
    if first > last:
        raise JobConfigError(f"--from {first} is after --to {last}")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise JobConfigError(f"the period is longer than {MAX_PERIOD_DAYS} days")
    if last > datetime.now(timezone.utc).date():
        raise JobConfigError(f"--to {last} is in the future")
    return first, last
