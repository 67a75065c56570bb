"""The store: SQLAlchemy Core over SQLite (WAL) by default or PostgreSQL. No ORM."""
