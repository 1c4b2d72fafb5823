"""Storage: one schema, SQLite or PostgreSQL through SQLAlchemy Core, migrated by Alembic."""
