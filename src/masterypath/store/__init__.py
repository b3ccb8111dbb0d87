"""Persistence: SQLAlchemy 2 tables, repositories (never commit) and Alembic migrations."""
