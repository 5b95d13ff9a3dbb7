"""Access records admins keep: seat assignments, registered service subjects, revoked tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from goalgraph.db.base import Base
from goalgraph.db.types import UTCDateTime


class SeatAssignment(Base):
    """A licensed seat an admin gave a user (at most the licence's seat count)."""

    __tablename__ = "seat_assignments"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    assigned_by: Mapped[str | None] = mapped_column(String(128))


class ServiceSubject(Base):
    """A token subject an admin registered as a service (CRM integration) for identity-provider tokens."""

    __tablename__ = "service_subjects"

    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    registered_by: Mapped[str | None] = mapped_column(String(128))


class RevokedToken(Base):
    """One token (by its ``jti``) an admin revoked."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(128))


class TokenCutoff(Base):
    """Every token of ``subject`` issued before ``not_before`` is revoked."""

    __tablename__ = "token_cutoffs"

    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[str | None] = mapped_column(String(128))
