"""`factoria alerts list|ack|silence|silences`: the operator's side of alerting.

`ack` stops escalation (and acknowledges the PagerDuty incident); `silence`
records alerts of a rule without notifying until it expires.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from cli.main import Subcommands
    from shared.models import AlertSilence

from shared.timestamps import iso

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_duration(text: str) -> timedelta:
    """`2h`, `90m`, `1d`, `1h30m` -> timedelta; ValueError otherwise."""
    m = _DURATION.match(text.strip().lower())
    if not text.strip() or m is None:
        raise ValueError(f"bad duration {text!r}: use e.g. 30m, 2h, 1d or 1h30m")
    days, hours, minutes = (int(g or 0) for g in m.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes)
    if value <= timedelta(0):
        raise ValueError("the duration must be positive")
    if value > timedelta(days=30):
        raise ValueError("a silence lasts at most 30 days")
    return value


def register(sub: Subcommands) -> None:
    p = sub.add_parser("alerts", help="list, acknowledge and silence alerts")
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    ls = asub.add_parser("list", help="alerts, newest first")
    ls.add_argument("--state", choices=("open", "resolved", "all"), default="open", help="which alerts (default open)")
    ls.add_argument("--limit", type=int, default=100, help="newest alerts shown at most (default 100)")
    ls.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ls.set_defaults(func=_list)
    a = asub.add_parser("ack", help="acknowledge an open alert: it will not be escalated")
    a.add_argument("alert_id", metavar="ID", help="the alert's id (from 'factoria alerts list')")
    a.add_argument("--json", action="store_true", help="print the alert as JSON")
    a.set_defaults(func=_ack)
    s = asub.add_parser("silence", help="record alerts of a rule without notifying, for a while")
    s.add_argument("rule", metavar="RULE", help="a rule name or a pattern such as 'job:*:missed'")
    s.add_argument("--for", dest="duration", required=True, help="how long: 30m, 2h, 1d, 1h30m (at most 30 days)")
    s.add_argument("--reason", help="why (shown in 'factoria alerts silences')")
    s.add_argument("--json", action="store_true", help="print the silence as JSON")
    s.set_defaults(func=_silence)
    ss = asub.add_parser("silences", help="silences in force")
    ss.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ss.set_defaults(func=_silences)


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from functions.health.alerts import view
    from shared.database import session_scope
    from shared.models import Alert

    if not 1 <= args.limit <= 10_000:
        print("factoria alerts list: --limit must be between 1 and 10000", file=sys.stderr)
        return 2
    stmt = select(Alert).order_by(Alert.opened_at.desc(), Alert.id).limit(args.limit)
    if args.state != "all":
        stmt = stmt.where(Alert.status == args.state)
    with session_scope() as session:
        alerts = [view(a) for a in session.scalars(stmt)]
    if args.json:
        print(json.dumps({"alerts": alerts}))
        return 0
    if not alerts:
        print(f"no {args.state if args.state != 'all' else ''} alerts".replace("  ", " "))
        return 0
    for a in alerts:
        acked = f"acked {a['acknowledged_at']}" if a["acknowledged_at"] else "unacked"
        state = a["state"] if a["state"] == "resolved" else f"open, {acked}"
        print(f"{a['id']}  {a['severity']:<8} {a['rule']:<28} {a['opened_at']}  {state}\n    {a['summary']}")
    return 0


def _ack(args: argparse.Namespace) -> int:
    import uuid

    from functions.health.alerts import view
    from shared.alerts import AlertNotFound, AlertResolved, acknowledge
    from shared.audit import audit
    from shared.database import session_scope

    try:
        alert_id = str(uuid.UUID(args.alert_id))
    except ValueError:
        print(f"factoria alerts ack: {args.alert_id!r} is not an alert id", file=sys.stderr)
        return 2
    try:
        with session_scope() as session:
            alert = acknowledge(session, alert_id, user_id=None, via="cli", attempts=3, timeout=5.0)
            audit(session, "alert.acknowledged", actor="cli", actor_role="operator",
                  details={"alert_id": alert.id, "rule": alert.rule})
            shown = view(alert)
    except AlertNotFound:
        print(f"factoria alerts ack: no alert {alert_id}", file=sys.stderr)
        return 2
    except AlertResolved:
        print(f"factoria alerts ack: alert {alert_id} is resolved already", file=sys.stderr)
        return 2
    print(json.dumps(shown) if args.json else f"acknowledged {shown['rule']} ({shown['id']}) at {shown['acknowledged_at']}")
    return 0


def _silence_view(row: AlertSilence) -> dict[str, Any]:
    return {"id": row.id, "rule": row.rule, "created_at": iso(row.created_at),
            "expires_at": iso(row.expires_at), "created_by": row.created_by,
            "reason": row.reason}


def _silence(args: argparse.Namespace) -> int:
    from shared.alerts import silence
    from shared.audit import audit
    from shared.database import session_scope

    try:
        duration = parse_duration(args.duration)
    except ValueError as exc:
        print(f"factoria alerts silence: {exc}", file=sys.stderr)
        return 2
    rule = args.rule.strip()
    if not rule or len(rule) > 100:
        print("factoria alerts silence: RULE must be 1 to 100 characters", file=sys.stderr)
        return 2
    with session_scope() as session:
        row = silence(session, rule, duration, created_by="cli", reason=args.reason)
        audit(session, "alert.silenced", actor="cli", actor_role="operator",
              details={"rule": rule, "expires_at": row.expires_at.isoformat()})
        shown = _silence_view(row)
    print(json.dumps(shown) if args.json else f"silenced {rule} until {shown['expires_at']}")
    return 0


def _silences(args: argparse.Namespace) -> int:
    from shared.alerts import active_silences
    from shared.database import session_scope

    with session_scope() as session:
        rows = [_silence_view(r) for r in active_silences(session)]
    if args.json:
        print(json.dumps({"silences": rows}))
    elif not rows:
        print("no silences in force")
    else:
        for r in rows:
            print(f"{r['rule']:<28} until {r['expires_at']}" + (f"  ({r['reason']})" if r["reason"] else ""))
    return 0
