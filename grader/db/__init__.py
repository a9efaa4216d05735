"""Persistence: SQLAlchemy 2 models and session handling."""
