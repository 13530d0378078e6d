"""`factoria users create --email E [--role R] [--json]`."""

from __future__ import annotations

import json
import sys

from shared.models import ROLES


def register(sub) -> None:
    p = sub.add_parser("users", help="manage users")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    c = usub.add_parser("create", help="create a user and print its first API key (shown once)")
    c.add_argument("--email", required=True)
    c.add_argument("--role", choices=ROLES, default="user")
    c.add_argument("--display-name")
    c.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    c.add_argument("--reuse", action="store_true",
                   help="if the user exists, issue it a new key instead of failing (used by 'make run')")
    c.set_defaults(func=_create)
    r = usub.add_parser("set-role", help="change a user's role (audited)")
    who = r.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-id")
    who.add_argument("--email")
    r.add_argument("--role", choices=ROLES, required=True)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_set_role)


def _create(args) -> int:
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.identity import IdentityError, create_key, create_user, normalise_email
    from shared.audit import audit
    from shared.models import User

    try:
        with session_scope() as session:
            user = None
            if args.reuse:
                user = session.scalar(select(User).where(User.email == normalise_email(args.email)))
            action = "key.created" if user is not None else "user.created"
            if user is None:
                user = create_user(session, args.email, args.role, args.display_name)
            key = create_key(session, user.id, name="initial" if action == "user.created" else "cli")
            audit(session, action, actor="cli", actor_role="operator", subject=user.id,
                  details={"role": user.role, "key": key.prefix})
    except IdentityError as exc:
        print(f"factoria users create: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"user_id": user.id, "api_key": key.api_key}))
    else:
        print(f"user {user.id} ({user.role}) created")
        print(f"API key (shown once, store it now): {key.api_key}")
    return 0


def _set_role(args) -> int:
    from sqlalchemy import select

    from shared.audit import audit
    from shared.database import session_scope
    from shared.identity import IdentityError, ensure_not_last_admin, normalise_email
    from shared.models import User

    try:
        with session_scope() as session:
            if args.user_id:
                user = session.get(User, args.user_id)
            else:
                user = session.scalar(select(User).where(User.email == normalise_email(args.email)))
            if user is None:
                raise IdentityError("no such user")
            if user.role == "admin" and args.role != "admin":
                ensure_not_last_admin(session, user.id)
            old_role, user.role = user.role, args.role
            if old_role != args.role:
                audit(session, "user.role_changed", actor="cli", actor_role="operator", subject=user.id,
                      details={"from": old_role, "to": args.role})
            result = {"user_id": user.id, "role": user.role, "previous_role": old_role}
    except IdentityError as exc:
        print(f"factoria users set-role: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else f"user {result['user_id']}: {old_role} -> {result['role']}")
    return 0
