"""`factoria keys create|revoke|list`."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from sqlalchemy.orm import Session

    from cli.main import Subcommands


def register(sub: Subcommands) -> None:
    p = sub.add_parser("keys", help="manage API keys")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    c = ksub.add_parser("create", help="create a key for a user (shown once)")
    who = c.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-id", help="the owner's user id")
    who.add_argument("--email", help="the owner's email address")
    c.add_argument("--name", help="a label for the key, e.g. where it is used")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    c.set_defaults(func=_create)
    r = ksub.add_parser("revoke", help="revoke a key by id or prefix")
    r.add_argument("key", help="key id or prefix")
    r.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    r.set_defaults(func=_revoke)
    ls = ksub.add_parser("list", help="list keys (never the secrets)")
    lwho = ls.add_mutually_exclusive_group()
    lwho.add_argument("--user-id", help="only this user's keys (by id)")
    lwho.add_argument("--email", help="only this user's keys (by email)")
    ls.add_argument("--json", action="store_true", help="print one JSON array on stdout")
    ls.set_defaults(func=_list)


def _find_user_id(session: Session, user_id: str | None, email: str | None) -> str:
    from sqlalchemy import select

    from shared.identity import IdentityError, normalise_email
    from shared.models import User

    if user_id:
        found = session.get(User, user_id)
    elif email:
        found = session.scalar(select(User).where(User.email == normalise_email(email)))
    else:  # unreachable from the command line: argparse requires --user-id or --email
        raise IdentityError("give --user-id or --email")
    if found is None:
        raise IdentityError("no such user")
    return found.id


def _audit(session: Session, action: str, user_id: str, details: dict[str, Any]) -> None:
    from shared.audit import audit

    audit(session, action, actor="cli", actor_role="operator", subject=user_id, details=details)


def _create(args: argparse.Namespace) -> int:
    from shared.database import session_scope
    from shared.identity import IdentityError, create_key

    try:
        with session_scope() as session:
            user_id = _find_user_id(session, args.user_id, args.email)
            key = create_key(session, user_id, name=args.name)
            _audit(session, "key.created", user_id, {"key": key.prefix})
    except IdentityError as exc:
        print(f"factoria keys create: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"key_id": key.key_id, "user_id": key.user_id, "api_key": key.api_key}))
    else:
        print(f"API key (shown once, store it now): {key.api_key}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from shared.database import session_scope
    from shared.identity import IdentityError, revoke_key

    try:
        with session_scope() as session:
            row = revoke_key(session, args.key)
            assert row.revoked_at is not None  # revoke_key sets it (or it was set before)
            _audit(session, "key.revoked", row.user_id, {"key": row.prefix})
            result = {"key_id": row.id, "prefix": row.prefix, "revoked_at": row.revoked_at.isoformat()}
    except IdentityError as exc:
        print(f"factoria keys revoke: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else f"key {result['prefix']} revoked")
    return 0


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.identity import IdentityError
    from shared.models import ApiKey

    try:
        with session_scope() as session:
            query = select(ApiKey).order_by(ApiKey.created_at)
            if args.user_id or args.email:
                query = query.where(ApiKey.user_id == _find_user_id(session, args.user_id, args.email))
            rows = [
                {"key_id": k.id, "user_id": k.user_id, "prefix": k.prefix, "name": k.name,
                 "created_at": k.created_at.isoformat(),
                 "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                 "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}
                for k in session.scalars(query)
            ]
    except IdentityError as exc:
        print(f"factoria keys list: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            state = "revoked" if r["revoked_at"] else "active"
            print(f"{r['prefix']}  {state:8} user={r['user_id']} last_used={r['last_used_at'] or '-'} name={r['name'] or '-'}")
    return 0
