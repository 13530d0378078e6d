"""Alembic environment: runs against the connection or URL handed in by `shared.migrations`."""

from alembic import context
from sqlalchemy import Connection

from shared.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from shared.database import make_engine

    url = config.get_main_option("sqlalchemy.url")
    if url is None:  # shared.migrations.alembic_config always sets it
        raise RuntimeError("the Alembic config has no sqlalchemy.url")
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # One transaction per revision: a revision that fails (a lock timeout) leaves those before it
        # applied and nothing of itself; revisions may also leave their transaction for a concurrent
        # index build (shared/migrations/online.py).
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
