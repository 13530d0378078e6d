"""`factoria users create|list|set-role|delete`.

`users delete` goes through the GDPR erasure path (the same code as
`DELETE /v1/users/{id}`): one transaction, verified, recorded in the erasure
ledger and the audit log under pseudonyms; it prints the receipt.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from shared.models import ROLES

if TYPE_CHECKING:
    import argparse

    from cli.main import Subcommands


def register(sub: Subcommands) -> None:
    p = sub.add_parser("users", help="manage users")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    c = usub.add_parser("create", help="create a user and print its first API key (shown once)")
    c.add_argument("--email", required=True, help="the user's email address (unique)")
    c.add_argument("--role", choices=ROLES, default="user", help="user (own data), admin (any user's data) "
                   "or ops (metrics and jobs, no content); default user")
    c.add_argument("--display-name", help="optional name shown to the user")
    c.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    c.add_argument("--reuse", action="store_true",
                   help="if the user exists, issue it a new key instead of failing")
    c.add_argument("--key-file", metavar="PATH",
                   help="keep the key in PATH (mode 0600) and, while it still works for this user, print it "
                   "again instead of issuing a new one (used by 'make run' with var/demo-admin.key)")
    c.set_defaults(func=_create)
    r = usub.add_parser("set-role", help="change a user's role (audited)")
    who = r.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-id", help="the user's id")
    who.add_argument("--email", help="the user's email address")
    r.add_argument("--role", choices=ROLES, required=True, help="the new role")
    r.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    r.set_defaults(func=_set_role)
    ls = usub.add_parser("list", help="list users: id, email, role, restriction, keys")
    ls.add_argument("--role", choices=ROLES, help="only users with this role")
    ls.add_argument("--json", action="store_true", help="print one JSON array on stdout")
    ls.set_defaults(func=_list)
    d = usub.add_parser("delete", help="erase a user and everything about them (GDPR Art. 17), printing the "
                        "receipt")
    dwho = d.add_mutually_exclusive_group(required=True)
    dwho.add_argument("--email", help="the user's email address")
    dwho.add_argument("--user-id", help="the user's id")
    d.add_argument("--yes", action="store_true",
                   help="do not ask for confirmation (required when stdin is not a terminal)")
    d.add_argument("--json", action="store_true", help="print the receipt as one JSON object on stdout")
    d.set_defaults(func=_delete)


def _kept_key(path: str, email: str) -> tuple[str, str] | None:
    """(user_id, key) from `path` when the key there still authenticates `email`'s user."""
    from pathlib import Path

    from shared.database import session_scope
    from shared.identity import normalise_email, verify_key

    file = Path(path)
    if not file.is_file():
        return None
    api_key = file.read_text().strip()
    with session_scope() as session:
        found = verify_key(session, api_key) if api_key else None
        if found is None or found[1].email != normalise_email(email):
            return None
        return found[1].id, api_key


def _keep_key(path: str, api_key: str) -> None:
    import os
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(api_key + "\n")
    os.chmod(path, 0o600)


def _create(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.identity import IdentityError, create_key, create_user, normalise_email
    from shared.audit import audit
    from shared.models import User

    kept = _kept_key(args.key_file, args.email) if args.key_file else None
    if kept is not None:
        user_id, api_key = kept
        if args.json:
            print(json.dumps({"user_id": user_id, "api_key": api_key}))
        else:
            print(f"user {user_id} exists; its key is kept in {args.key_file}")
            print(f"API key: {api_key}")
        return 0
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
    if args.key_file:
        _keep_key(args.key_file, key.api_key)
    if args.json:
        print(json.dumps({"user_id": user.id, "api_key": key.api_key}))
    else:
        print(f"user {user.id} ({user.role}) {'created' if action == 'user.created' else 'given a new key'}")
        if args.key_file:
            print(f"API key (kept in {args.key_file}): {key.api_key}")
        else:
            print(f"API key (shown once, store it now): {key.api_key}")
    return 0


def _set_role(args: argparse.Namespace) -> int:
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


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from shared.database import session_scope
    from shared.models import ApiKey, User

    with session_scope() as session:
        keys = (select(ApiKey.user_id, func.count().label("n")).where(ApiKey.revoked_at.is_(None))
                .group_by(ApiKey.user_id).subquery())
        query = (select(User, func.coalesce(keys.c.n, 0)).outerjoin(keys, keys.c.user_id == User.id)
                 .order_by(User.created_at, User.id))
        if args.role:
            query = query.where(User.role == args.role)
        rows = [{"user_id": u.id, "email": u.email, "role": u.role, "display_name": u.display_name,
                 "restricted": u.restricted_at is not None, "active_keys": int(n),
                 "created_at": u.created_at.isoformat()} for u, n in session.execute(query)]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            flags = " restricted" if r["restricted"] else ""
            print(f"{r['user_id']}  {r['role']:5}  keys={r['active_keys']}{flags}  {r['email']}")
        print(f"{len(rows)} user(s)", file=sys.stderr)
    return 0


def _delete(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from functions.gdpr import subjects
    from functions.gdpr.erasure import erase_subject
    from shared import errors
    from shared.database import session_scope
    from shared.identity import normalise_email
    from shared.models import User

    with session_scope() as session:
        if args.user_id:
            user = session.get(User, args.user_id.lower())
        else:
            user = session.scalar(select(User).where(User.email == normalise_email(args.email)))
        found = None if user is None else (user.id, user.role)
    if found is None:
        print("factoria users delete: no such user", file=sys.stderr)
        return 2
    user_id, role = found
    if not args.yes:
        if not sys.stdin.isatty():
            print("factoria users delete: erasure cannot be undone; add --yes to confirm", file=sys.stderr)
            return 2
        answer = input(f"Erase user {user_id} ({role}) and everything about them? This cannot be undone. "
                       "Type 'erase' to confirm: ")
        if answer.strip() != "erase":
            print("factoria users delete: not confirmed; nothing erased", file=sys.stderr)
            return 2
    try:
        receipt = erase_subject(subjects.operator(user_id))
    except errors.Problem as exc:
        print(f"factoria users delete: {exc.detail or exc.title}", file=sys.stderr)
        return 2 if exc.status < 500 else 1
    body = receipt.model_dump(mode="json")
    if args.json:
        print(json.dumps(body))
    else:
        print(f"erased user {user_id}: erasure {body['erasure_id']} at {body['erased_at']}, verified")
        for table, n in sorted(body["deleted"].items()):
            print(f"  {table}: {n}")
    return 0
