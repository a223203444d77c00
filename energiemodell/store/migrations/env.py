"""Alembic environment of the store: run programmatically by ``energiemodell.store.db.upgrade``.

The engine comes from ``config.attributes["engine"]`` (no alembic.ini, no URL in a file).
"""

from alembic import context

from energiemodell.store.tables import metadata

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    msg = "offline (SQL script) migrations are not supported; run `energiemodell db upgrade`"
    raise SystemExit(msg)
run_migrations_online()
