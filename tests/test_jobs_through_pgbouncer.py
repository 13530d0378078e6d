"""What must hold behind PgBouncer's transaction pooling, beyond the suite's `pgbouncer` backend runs."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import create_pg_database, drop_pg_database


@pytest.fixture
def bouncer(request, monkeypatch):
    """The session's PgBouncer in front of the test database, as the application sees it."""
    database = request.getfixturevalue("_pgbouncer_database")
    database.truncate()
    monkeypatch.setenv("DATABASE_URL", database.url)
    monkeypatch.setenv("DB_PGBOUNCER", "true")
    monkeypatch.setenv("DATABASE_DIRECT_URL", database.direct_url)
    from tests.conftest import reset_process_state

    reset_process_state()
    return database


def test_the_application_really_talks_through_pgbouncer_in_transaction_mode(bouncer):
    from sqlalchemy.engine import make_url

    from shared.database import get_engine, session_scope

    assert make_url(bouncer.url).port != 5432
    with session_scope() as s:
        # Each transaction carries its own statement timeout (a session SET would leak to other clients).
        assert s.execute(text("SELECT current_setting('statement_timeout')")).scalar() == "5s"
        assert s.execute(text("SELECT inet_server_port()")).scalar() == 5432
    with get_engine().connect() as conn:
        assert conn.connection.dbapi_connection.prepare_threshold is None  # no server-side prepared statements


def test_migrations_behind_pgbouncer_use_the_direct_url_and_leave_no_advisory_lock_behind(bouncer, env):
    """The migrator's lock and lock_timeout are session state, which cannot cross a transaction pooler:
    with DB_PGBOUNCER=true `factoria db upgrade` connects through DATABASE_DIRECT_URL, and releases its lock."""
    from sqlalchemy.engine import make_url

    from shared import migrations
    from shared.settings import SettingsError

    direct = create_pg_database("lf_bouncer_migrate")
    through = make_url(bouncer.url).set(database=make_url(direct).database).render_as_string(hide_password=False)
    try:
        env(database_url=through, database_direct_url=direct)
        migrations.upgrade()
        migrations.upgrade()  # a second deploy's pre-deploy finds nothing to do
        engine = create_engine(direct)
        with engine.connect() as conn:
            held = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar()
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        engine.dispose()
        assert held == 0 and revision == migrations.head_revision()
        env(database_direct_url=None)
        with pytest.raises(SettingsError, match="DATABASE_DIRECT_URL"):
            migrations.upgrade()
    finally:
        from shared.database import dispose_engines

        dispose_engines()
        drop_pg_database(direct)


def test_backup_behind_pgbouncer_without_a_direct_url_is_a_clear_exit_2(bouncer, monkeypatch):
    from jobs.runner import run_job
    from tests.conftest import reset_process_state

    monkeypatch.delenv("DATABASE_DIRECT_URL")
    reset_process_state()
    code, summary = run_job("backup")
    assert code == 2 and summary["status"] == "error"
    assert "DATABASE_DIRECT_URL" in summary["error"] and "DB_PGBOUNCER" in summary["error"]
