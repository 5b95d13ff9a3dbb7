"""Storage: declarative base, typed models, engine/session factory and Alembic migrations."""
