"""Alembic environment: the engine comes from `alembic_config(engine)`, never a URL in a file."""

from __future__ import annotations

from alembic import context

from spendledger.store.tables import metadata

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
