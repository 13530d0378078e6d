"""The last remaining admin cannot be erased or demoted (409; CLI exit 2)."""

from sqlalchemy import func, select

from shared.database import session_scope
from shared.models import User
from tests.conftest import auth

ERASE = {"confirm": "erase my data"}


def _admins() -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(User).where(User.role == "admin"))


def test_last_admin_cannot_erase_itself(db, client_for, users):
    admin_id, admin_key = users("admin")
    client = client_for("gdpr")
    resp = client.delete("/v1/me", json=ERASE, headers=auth(admin_key))
    assert resp.status_code == 409 and resp.headers["Content-Type"] == "application/problem+json"
    assert "last admin" in resp.get_json()["detail"]
    resp = client.delete(f"/v1/users/{admin_id}", json=ERASE, headers=auth(admin_key))
    assert resp.status_code == 409
    assert _admins() == 1 and client.get("/v1/me", headers=auth(admin_key)).status_code == 200
    # With a second admin, either may go.
    other_id, other_key = users("admin")
    assert client.delete("/v1/me", json=ERASE, headers=auth(admin_key)).status_code == 200
    assert client.delete("/v1/me", json=ERASE, headers=auth(other_key)).status_code == 409
    assert _admins() == 1


def test_last_admin_cannot_be_demoted(db, capsys, users):
    from cli.main import main

    admin_id, _ = users("admin")
    assert main(["users", "set-role", "--user-id", admin_id, "--role", "user"]) == 2
    assert "last admin" in capsys.readouterr().err
    assert _admins() == 1
    other_id, _ = users("admin")
    assert main(["users", "set-role", "--user-id", admin_id, "--role", "ops", "--json"]) == 0
    assert main(["users", "set-role", "--user-id", other_id, "--role", "user"]) == 2
    assert _admins() == 1
