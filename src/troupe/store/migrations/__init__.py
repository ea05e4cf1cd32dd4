"""Alembic migrations of troupe's tables; run by ``troupe.store._migrate``."""
