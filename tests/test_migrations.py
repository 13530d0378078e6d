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
