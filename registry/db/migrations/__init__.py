"""Alembic migrations of the task database (shipped inside the package so installs migrate)."""
