"""Alembic migrations of the platform's database (shipped inside the package so installs migrate);
`schema.py` holds the table builders the scripts in `versions/` share."""
