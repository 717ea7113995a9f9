"""The platform's database: one engine per process and URL (`database.Database`, SQLite under
data_dir by default, PostgreSQL via `database.url`) and the Alembic migrations every record
module's tables live in (auth, cluster, audit, tasks, usage, retention, tag protection)."""
