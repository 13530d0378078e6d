"""After an erasure on SQLite, neither the database file nor its WAL holds the person."""

from tests.conftest import auth


def test_sqlite_files_hold_no_trace_after_erasure(env, tmp_path, client_for):
    from shared import migrations
    from tests.conftest import make_user

    path = tmp_path / "factoria.db"
    env(database_url=f"sqlite:///{path}")
    migrations.upgrade(f"sqlite:///{path}")
    email = "wal-trace-person@example.org"
    user_id, key = make_user("user", email=email)
    make_user("admin")
    client = client_for("gdpr")
    for _ in range(3):  # some history in the WAL
        assert client.patch("/v1/me", json={"display_name": "Trace Person"}, headers=auth(key)).status_code == 200
    resp = client.delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(key))
    assert resp.status_code == 200, resp.get_json()
    for file in (path, path.with_name(path.name + "-wal")):
        data = file.read_bytes() if file.exists() else b""
        assert email.encode() not in data and user_id.encode() not in data, file.name
