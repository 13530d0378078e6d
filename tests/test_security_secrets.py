"""Secrets hygiene: no API key, provider key, database password or email in logs or error bodies.

The suite-wide check lives in conftest (`_no_secrets_in_logs`, using
tests.logcapture); these tests prove the detector works and probe the error
paths most likely to leak.
"""

from __future__ import annotations

import functools
import json
import logging

import pytest

from cli.dev import load_apps
from shared.http import FunctionApp, Route
from tests.conftest import auth, function_client
from tests.logcapture import CAPTURE, find_leaks

FAKE_KEY = "lf_0123456789ab_" + "S" * 43


def test_detector_finds_every_kind_of_leak():
    cases = {
        "API key": f"auth with {FAKE_KEY}",
        "provider key": "openai key sk-proj-abcdefghijklmnop1234",
        "password in URL": "connect postgresql://app:hunter2pass@db.internal:5432/x",
        "email": "user Ada.Lovelace@example.org signed up",
    }
    for what, line in cases.items():
        assert any(what in leak for leak in find_leaks([("t", line)], set())), what
    assert find_leaks([("t", "value xyz-configured-secret-123 seen")], {"xyz-configured-secret-123"})
    clean = [("t", "request done status=401 route=/v1/content user=p_" + "a" * 40),
             ("t", "connect postgresql+psycopg://postgres@127.0.0.1:5432/lf_test"),
             ("t", "redacted lf_[REDACTED] and bearer [REDACTED]")]
    assert find_leaks(clean, {"xyz-configured-secret-123"}) == []


def test_capture_sees_raw_records_before_redaction():
    logging.getLogger("lafactoria.test").warning("leaking %s on purpose", FAKE_KEY)
    leaks = CAPTURE.scan_and_clear()  # takes the line, so this test's own teardown stays clean
    assert leaks and "API key" in leaks[0]
    logging.getLogger("lafactoria.test").warning("exception", exc_info=ValueError("mail bob@example.com"))
    assert any("email" in leak for leak in CAPTURE.scan_and_clear())


def test_formatted_tracebacks_carry_types_and_frames_never_messages():
    """An exception's message can quote a request or a row: the JSON log shows the chain's classes
    and frames only, for `log.exception` anywhere (shared.logs.safe_traceback)."""
    import json
    import sys

    from shared.logs import JsonFormatter

    def fail(user_id: str, topic: str) -> None:  # data arrives as values, as in the application
        try:
            raise KeyError(user_id)
        except KeyError as exc:
            raise ValueError(topic) from exc

    import uuid

    user_id, topic = str(uuid.uuid4()), f"topic {uuid.uuid4().hex}"
    record = logging.LogRecord("lafactoria.test", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        fail(user_id, topic)
    except ValueError:
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert user_id not in entry["exception"] and topic not in entry["exception"]
    assert "KeyError (message withheld)" in entry["exception"]
    assert "ValueError (message withheld)" in entry["exception"] and "in fail" in entry["exception"]


def test_users_emails_and_configured_secrets_are_tracked(db, users, env):
    from shared.database import session_scope
    from shared.identity import create_user

    with session_scope() as s:
        create_user(s, "Tracked.Person@Example.org")
    env(openai_api_key="configured-provider-secret-42")
    logging.getLogger("lafactoria.test").warning("harmless line")
    assert "tracked.person@example.org" in CAPTURE.exact
    assert "configured-provider-secret-42" in CAPTURE.exact
    assert CAPTURE.scan_and_clear() == []


def _test_client():
    return FunctionApp("secrets", [Route("/thing", lambda ctx: {"ok": True})]).test_client()


def _keyed_paths():
    """One authenticated GET-able path per function present (plus the test-only app)."""
    out = [("test-only", _test_client, "/thing")]
    for name, app in load_apps().items():
        for route in app.routes:
            if route.roles is not None and "GET" in route.methods:
                path = route.rule.replace("<", "").replace(">", "")
                out.append((name, functools.partial(function_client, name), path))
                break
    return out


@pytest.mark.parametrize("target", _keyed_paths(), ids=lambda t: t[0])
def test_api_keys_never_echoed_in_error_bodies(db, users, target):
    _, make, path = target
    client = make()
    _, real_key = users("user")
    revoked_user, revoked_key = users("user")
    from shared.database import session_scope
    from shared.identity import revoke_key

    with session_scope() as s:
        revoke_key(s, revoked_key.split("_")[1])
    for header in (auth(FAKE_KEY), auth(revoked_key), auth(real_key[:-3] + "abc"), {"Authorization": FAKE_KEY},
                   auth(FAKE_KEY + "\x00"), auth("x" * 5000)):
        resp = client.get(path, headers=header)
        assert resp.status_code == 401
        text = resp.get_data(as_text=True)
        assert FAKE_KEY not in text and revoked_key not in text and real_key[:-3] not in text
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_unauthorized_exception_carries_no_key(db):
    from shared.auth import authenticate
    from shared.errors import Unauthorized

    with pytest.raises(Unauthorized) as caught:
        authenticate(f"Bearer {FAKE_KEY}")
    assert FAKE_KEY not in str(caught.value) and FAKE_KEY not in json.dumps(caught.value.body())


def test_database_password_not_leaked_when_database_is_down(env):
    env(database_url="postgresql://lf_app:very-secret-db-pass@127.0.0.1:1/none")
    resp = _test_client().get("/thing", headers=auth(FAKE_KEY))
    assert resp.status_code == 503
    assert "very-secret-db-pass" not in resp.get_data(as_text=True)
    assert "very-secret-db-pass" in CAPTURE.exact  # tracked: the suite-wide check looks for it
    assert CAPTURE.scan_and_clear() == []


def test_server_logs_are_checked_too(db, users, function_server):
    server = function_server("health", env={"DATABASE_URL": db.url})
    import requests

    _, key = users("ops")
    assert requests.get(server.url + "/health", headers=auth(key), timeout=10).status_code in (200, 503)
    server.stop()
    lines = [line for line in CAPTURE.lines if line[0] == "health server"]
    assert lines, "the server's stderr was not captured"
    assert CAPTURE.scan_and_clear() == []
