"""SQLite and SQLAlchemy plumbing shared by every database-backed store."""
