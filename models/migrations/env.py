"""Alembic runs on the connection `models.db.upgrade` hands it; there is no alembic.ini."""

from alembic import context

from models.db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
