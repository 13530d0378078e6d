"""Rectification, consent, restriction, and who may act on whom."""

import threading
import uuid

import pytest
from sqlalchemy import func, select

from shared.database import session_scope
from shared.models import CONSENT_PURPOSES, AuditEntry, ConsentEvent, User
from shared.pseudonyms import pseudonym
from tests.conftest import auth


@pytest.fixture
def client(client_for):
    return client_for("gdpr")


# --- rectification -----------------------------------------------------------------------------

def test_rectify_email_and_display_name(db, users, client):
    user_id, key = users("user", "old@example.org")
    resp = client.patch("/v1/me", json={"email": "  New.Name@Example.ORG ", "display_name": " Ada L "},
                        headers=auth(key))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"id", "email", "display_name", "role", "restricted", "created_at"}
    assert body["email"] == "new.name@example.org" and body["display_name"] == "Ada L"
    assert body["id"] == user_id and body["restricted"] is False
    assert client.get("/v1/me", headers=auth(key)).get_json() == body
    cleared = client.patch("/v1/me", json={"display_name": None}, headers=auth(key)).get_json()
    assert cleared["display_name"] is None and cleared["email"] == "new.name@example.org"
    with session_scope() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "gdpr.rectification")
                                 .order_by(AuditEntry.created_at)))
        assert [e.details["fields"] for e in entries] == [["email", "display_name"], ["display_name"]]
        assert all("example.org" not in str(e.details) for e in entries)


@pytest.mark.parametrize("body,field", [
    ({"email": "not-an-email"}, "email"),
    ({"email": None}, "body"),
    ({}, "body"),
    ({"display_name": "a\x00b"}, "display_name"),
    ({"display_name": "x" * 201}, "display_name"),
    ({"role": "admin"}, "role"),
])
def test_rectify_rejects_bad_fields(db, users, client, body, field):
    _, key = users("user")
    resp = client.patch("/v1/me", json=body, headers=auth(key))
    assert resp.status_code == 422
    assert field in {e["field"] for e in resp.get_json()["errors"]}


def test_duplicate_email_is_409(db, users, client):
    users("user", "taken@example.org")
    _, key = users("user", "mine@example.org")
    resp = client.patch("/v1/me", json={"email": "Taken@example.org"}, headers=auth(key))
    assert resp.status_code == 409 and "taken@" not in resp.get_data(as_text=True)
    same = client.patch("/v1/me", json={"email": "mine@example.org"}, headers=auth(key))
    assert same.status_code == 200


def test_duplicate_email_under_a_race_is_409(pg, users, client_for):
    """Two users claim one address at once: exactly one wins, the other gets 409, never 500."""
    keys = [users("user")[1] for _ in range(4)]
    # One app each, built before the threads: CPython 3.11's ast.parse (werkzeug compiles its routes
    # with it) is not safe to run in several threads at once ("AST constructor recursion depth mismatch").
    clients = [client_for("gdpr") for _ in keys]
    results = []

    def claim(client, key):
        results.append(client.patch("/v1/me", json={"email": "race@example.org"}, headers=auth(key)).status_code)

    threads = [threading.Thread(target=claim, args=(c, k)) for c, k in zip(clients, keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409, 409, 409]


# --- consent -------------------------------------------------------------------------------------

def has_consent(s, user_id: str, purpose: str) -> bool:
    """The stored consent state (absent means not granted), read straight from the table."""
    from shared.models import Consent

    return bool(s.scalar(select(Consent.granted).where(Consent.user_id == user_id, Consent.purpose == purpose)))


def test_consents_default_off_and_history_is_kept(db, users, client):
    user_id, key = users("user")
    listed = client.get("/v1/me/consents", headers=auth(key)).get_json()
    assert set(listed["consents"]) == set(CONSENT_PURPOSES) and "analytics" in listed["consents"]
    assert all(v == {"granted": False, "updated_at": None} for v in listed["consents"].values())
    with session_scope() as s:
        assert has_consent(s, user_id, "analytics") is False

    put = client.put("/v1/me/consents/analytics", json={"granted": True}, headers=auth(key))
    assert put.status_code == 200 and put.get_json()["granted"] is True
    with session_scope() as s:
        assert has_consent(s, user_id, "analytics") is True
        assert has_consent(s, user_id, "marketing") is False
    client.put("/v1/me/consents/analytics", json={"granted": False}, headers=auth(key))
    listed = client.get("/v1/me/consents", headers=auth(key)).get_json()["consents"]
    assert listed["analytics"]["granted"] is False and listed["analytics"]["updated_at"]
    with session_scope() as s:
        assert has_consent(s, user_id, "analytics") is False
        events = list(s.scalars(select(ConsentEvent).where(ConsentEvent.user_id == user_id)
                                .order_by(ConsentEvent.created_at)))
    assert [(e.granted, e.actor_role, e.actor) for e in events] == [
        (True, "self", pseudonym(user_id)), (False, "self", pseudonym(user_id))]


@pytest.mark.parametrize("body", [{"granted": "true"}, {"granted": 1}, {}, {"granted": True, "why": "x"}])
def test_consent_body_is_strict(db, users, client, body):
    _, key = users("user")
    resp = client.put("/v1/me/consents/analytics", json=body, headers=auth(key))
    assert resp.status_code == 422


def test_unknown_purpose_is_404(db, users, client):
    _, key = users("user")
    assert client.put("/v1/me/consents/telepathy", json={"granted": True}, headers=auth(key)).status_code == 404


def test_admin_changes_consent_on_behalf(db, users, client):
    admin_id, admin_key = users("admin")
    user_id, user_key = users("user")
    resp = client.put(f"/v1/users/{user_id}/consents/marketing", json={"granted": True}, headers=auth(admin_key))
    assert resp.status_code == 200
    assert client.get("/v1/me/consents", headers=auth(user_key)).get_json()["consents"]["marketing"]["granted"]
    with session_scope() as s:
        event = s.scalar(select(ConsentEvent))
        assert (event.actor_role, event.actor) == ("admin", pseudonym(admin_id))


# --- restriction ---------------------------------------------------------------------------------

def test_restriction_set_and_lifted_while_rights_keep_working(db, users, client):
    user_id, key = users("user")
    assert client.post("/v1/me/restriction", headers=auth(key)).status_code == 204
    with session_scope() as s:
        first = s.get(User, user_id).restricted_at
    assert first is not None
    assert client.post("/v1/me/restriction", headers=auth(key)).status_code == 204
    with session_scope() as s:
        assert s.get(User, user_id).restricted_at == first  # idempotent
    assert client.get("/v1/me", headers=auth(key)).get_json()["restricted"] is True
    # export, rectification and consent still work while restricted
    assert client.get("/v1/me/export", headers=auth(key)).status_code == 200
    assert client.patch("/v1/me", json={"display_name": "R"}, headers=auth(key)).status_code == 200
    assert client.delete("/v1/me/restriction", headers=auth(key)).status_code == 204
    assert client.get("/v1/me", headers=auth(key)).get_json()["restricted"] is False
    # and erasure too
    client.post("/v1/me/restriction", headers=auth(key))
    erased = client.delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(key))
    assert erased.status_code == 200 and erased.get_json()["verified"] is True


# --- access --------------------------------------------------------------------------------------

ADMIN_CALLS = [
    ("get", "", None),
    ("patch", "", {"display_name": "X"}),
    ("delete", "", {"confirm": "erase my data"}),
    ("get", "/export", None),
    ("get", "/consents", None),
    ("put", "/consents/analytics", {"granted": True}),
    ("post", "/restriction", None),
    ("delete", "/restriction", None),
]


@pytest.mark.parametrize("method,suffix,body", ADMIN_CALLS)
@pytest.mark.parametrize("role", ["user", "ops"])
def test_users_paths_are_admin_only(db, users, client, role, method, suffix, body):
    victim_id, _ = users("user")
    _, key = users(role)
    resp = getattr(client, method)(f"/v1/users/{victim_id}{suffix}", json=body, headers=auth(key))
    assert resp.status_code == 403
    with session_scope() as s:
        assert s.get(User, victim_id).display_name is None and s.get(User, victim_id).restricted_at is None


@pytest.mark.parametrize("method,suffix,body", ADMIN_CALLS)
def test_unknown_user_is_404_for_admin(db, users, client, method, suffix, body):
    _, key = users("admin")
    for user_id in (str(uuid.uuid4()), "not-a-uuid"):
        resp = getattr(client, method)(f"/v1/users/{user_id}{suffix}", json=body, headers=auth(key))
        assert resp.status_code == 404, (method, suffix, resp.get_json())


@pytest.mark.parametrize("method,suffix,body", ADMIN_CALLS)
def test_admin_calls_are_audited_with_pseudonyms(db, users, client, method, suffix, body):
    admin_id, key = users("admin")
    victim_id, _ = users("user", "victim@example.org")
    resp = getattr(client, method)(f"/v1/users/{victim_id}{suffix}", json=body, headers=auth(key))
    assert resp.status_code in (200, 204)
    with session_scope() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action.like("gdpr.%"))))
    assert len(entries) == 1
    assert (entries[0].actor, entries[0].subject) == (pseudonym(admin_id), pseudonym(victim_id))
    assert entries[0].details["requested_by"] == "admin" and "victim" not in str(entries[0].details)


@pytest.mark.parametrize("method,path", [("get", "/v1/me"), ("get", "/v1/me/export"), ("delete", "/v1/me"),
                                         ("put", "/v1/me/consents/analytics"), ("post", "/v1/me/restriction")])
def test_no_key_is_401(db, client, method, path):
    resp = getattr(client, method)(path)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_user_acts_only_on_themself(db, users, client):
    alice_id, alice_key = users("user")
    bob_id, bob_key = users("user")
    client.patch("/v1/me", json={"display_name": "Alice"}, headers=auth(alice_key))
    assert client.get("/v1/me", headers=auth(bob_key)).get_json()["id"] == bob_id
    assert client.get(f"/v1/users/{alice_id}", headers=auth(bob_key)).status_code == 403
    with session_scope() as s:
        assert s.get(User, bob_id).display_name is None
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.subject == pseudonym(bob_id))) == 0


def test_gdpr_never_imports_an_llm_sdk_and_loads_the_database_lazily():
    import subprocess
    import sys

    code = ("import sys, functions.gdpr.main; "
            "bad=[m for m in sys.modules if m.split('.')[0] in ('openai','anthropic','boto3','matplotlib','sqlalchemy')"
            " or m.startswith('google.genai')]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
