"""Content-addressed, immutable artifact storage."""
