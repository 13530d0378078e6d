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


def _create(args) -> int:
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.identity import IdentityError, create_key, create_user, normalise_email
    from shared.models import AuditEntry, User
    from shared.pseudonyms import pseudonym

    try:
        with session_scope() as session:
            user = None
            if args.reuse:
                user = session.scalar(select(User).where(User.email == normalise_email(args.email)))
            action = "key.created" if user is not None else "user.created"
            if user is None:
                user = create_user(session, args.email, args.role, args.display_name)
            key = create_key(session, user.id, name="initial" if action == "user.created" else "cli")
            session.add(AuditEntry(action=action, actor="cli", actor_role="operator",
                                   subject=pseudonym(user.id), details={"role": user.role, "key": key.prefix}))
    except IdentityError as exc:
        print(f"factoria users create: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"user_id": user.id, "api_key": key.api_key}))
    else:
        print(f"user {user.id} ({user.role}) created")
        print(f"API key (shown once, store it now): {key.api_key}")
    return 0
