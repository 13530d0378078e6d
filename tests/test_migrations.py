"""Migrations run both ways on both backends, and the models match the migrated schema."""

import pytest
from sqlalchemy import create_engine

from shared import migrations
from shared.models import Base
from tests.conftest import create_pg_database, drop_pg_database


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
    else:
        url = create_pg_database("lf_migr")
        yield url
        drop_pg_database(url)


def _drift(url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    return diff


def test_upgrade_downgrade_upgrade_without_drift(empty_url):
    from sqlalchemy import inspect

    migrations.upgrade(empty_url)
    assert _drift(empty_url) == []
    migrations.downgrade(empty_url, "base")
    engine = create_engine(empty_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    migrations.upgrade(empty_url)
    assert _drift(empty_url) == []
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        assert migrations.current_revision(conn) == migrations.head_revision()
    engine.dispose()


def test_every_model_table_is_created(empty_url):
    from sqlalchemy import inspect

    migrations.upgrade(empty_url)
    engine = create_engine(empty_url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_concurrent_upgrades_on_postgres_serialise():
    """Three services' pre-deploy commands racing: all succeed, schema at head once."""
    import threading

    url = create_pg_database("lf_migr_race")
    try:
        errors = []

        def go():
            try:
                migrations.upgrade(url)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=go) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert _drift(url) == []
    finally:
        drop_pg_database(url)


def test_upgrade_behind_a_long_transaction_gives_up_cleanly_and_readers_wait_no_longer_than_the_timeout():
    """A long transaction holds `usage_events`: the migration waits at most MIGRATION_LOCK_TIMEOUT_MS per
    attempt, exits 3 with one line, leaves the previous revisions applied and nothing of the blocked one;
    a reader queued behind the migration's lock request goes on once it gives up (without lock_timeout it
    would wait for the long transaction). Then the upgrade succeeds."""
    import os
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    from sqlalchemy import inspect, text

    from tests.conftest import ROOT

    url = create_pg_database("lf_migr_lock")
    holder = create_engine(url)
    try:
        migrations.upgrade(url, "0002")
        env = dict(os.environ, DATABASE_URL=url, MIGRATION_LOCK_TIMEOUT_MS="1500", MIGRATION_LOCK_RETRIES="3")
        with holder.connect() as long_tx:
            long_tx.execute(text("LOCK TABLE usage_events IN ACCESS SHARE MODE"))  # a long report query
            proc = subprocess.Popen([str(Path(sys.executable).parent / "factoria"), "db", "upgrade"], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            reader_result = []
            watcher = create_engine(url)
            with watcher.connect() as conn:  # wait (bounded) until the migration queues for its lock
                deadline = time.monotonic() + 60
                while not conn.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query ILIKE 'LOCK TABLE%usage_events%'")).scalar():
                    assert time.monotonic() < deadline and proc.poll() is None, "migration never waited"
                    time.sleep(0.05)
                    conn.rollback()

            def read():
                with watcher.connect() as conn:
                    conn.execute(text("SET statement_timeout = 30000"))
                    reader_result.append(conn.execute(text("SELECT count(*) FROM usage_events")).scalar())

            reader = threading.Thread(target=read)
            reader.start()
            reader.join(25)  # the long transaction is still open: only lock_timeout lets the reader through
            assert reader_result == [0]
            _, err = proc.communicate(timeout=60)
            watcher.dispose()
        assert proc.returncode == 3, err
        assert err.strip().splitlines() == [line for line in err.strip().splitlines()
                                             if line.startswith("factoria db upgrade: ")] and len(err.splitlines()) == 1
        assert "database left at revision 0002" in err
        engine = create_engine(url)
        with engine.connect() as conn:
            assert migrations.current_revision(conn) == "0002"
            assert "generation_id" not in {c["name"] for c in inspect(conn).get_columns("usage_events")}
        engine.dispose()
        done = subprocess.run([str(Path(sys.executable).parent / "factoria"), "db", "upgrade"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert _drift(url) == []
        engine = create_engine(url)
        with engine.connect() as conn:  # the busy tables' indexes were built concurrently: valid
            assert conn.execute(text("SELECT bool_and(i.indisvalid) FROM pg_index i JOIN pg_class c "
                                     "ON c.oid = i.indexrelid WHERE c.relname IN "
                                     "('ix_usage_events_generation', 'ix_content_items_cache_key')")).scalar()
        engine.dispose()
    finally:
        holder.dispose()
        drop_pg_database(url)


def test_online_helpers_build_concurrently_rebuild_invalid_indexes_and_validate_constraints():
    """`shared.migrations.online` on PostgreSQL: a half-built (INVALID) index from a failed attempt is
    rebuilt valid; a foreign key is added NOT VALID then validated (it ends valid and enforced)."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from shared.migrations import online

    url = create_pg_database("lf_migr_online")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child (id int, parent_id int)"))
            conn.execute(text("INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 1)"))
            conn.execute(text("CREATE INDEX ix_child_parent ON child (parent_id)"))
            conn.execute(text("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_child_parent'::regclass"))
            conn.commit()
            with Operations.context(MigrationContext.configure(conn)):
                online.create_index("ix_child_parent", "child", ["parent_id"])
                online.add_foreign_key("fk_child_parent", "child", "parent", ["parent_id"], ["id"])
            conn.commit()
            assert conn.execute(text("SELECT indisvalid FROM pg_index "
                                     "WHERE indexrelid = 'ix_child_parent'::regclass")).scalar() is True
            assert conn.execute(text("SELECT convalidated FROM pg_constraint "
                                     "WHERE conname = 'fk_child_parent'")).scalar() is True
            with pytest.raises(IntegrityError):
                conn.execute(text("INSERT INTO child VALUES (3, 99)"))
    finally:
        engine.dispose()
        drop_pg_database(url)
