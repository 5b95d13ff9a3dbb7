"""The CRM facts goalgraph mirrors, exchange rates, and the organisation's settings.

Every fact has an internal integer ``id`` (for joins) and the CRM's ``external_id``
(the key an upsert matches on). ``source_updated_at`` is the CRM's own timestamp of
the version stored: an update older than it is ignored, because webhooks arrive out
of order.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from goalgraph.db.base import Base
from goalgraph.db.types import ExactDecimal, Money, UTCDateTime

EXTERNAL_ID_LENGTH = 128


class DealStatus(str, enum.Enum):
    """Where a deal stands."""

    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"
    STALLED = "STALLED"


class Organisation(Base):
    """The single organisation this installation serves (row id 1)."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    default_currency: Mapped[str] = mapped_column(String(3))
    time_zone: Mapped[str] = mapped_column(String(64))
    #: 0 = Monday … 6 = Sunday.
    week_start: Mapped[int] = mapped_column(SmallInteger)
    fiscal_year_start_month: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("week_start BETWEEN 0 AND 6", name="week_start_range"),
        CheckConstraint("fiscal_year_start_month BETWEEN 1 AND 12", name="fiscal_month_range"),
    )


class User(Base):
    """A CRM user: someone a goal can be assigned to and facts are credited to."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Access (managed in goalgraph by admins, never overwritten by CRM upserts). Team leadership
    # comes from team memberships.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    can_see_company_statistics: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    can_see_other_users_statistics: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    can_lock_targets: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: SuperOffice's data right "Targets" (Mål): use goals and the targets plan at all. On for new and
    #: (by migration 0007) existing users so nobody is locked out; admins withdraw it.
    can_use_targets: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class Team(Base):
    """A user group with leaders and members."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    memberships: Mapped[list["TeamMembership"]] = relationship(
        back_populates="team", cascade="all, delete-orphan", lazy="raise"
    )


class TeamMembership(Base):
    """A user's membership of a team; leaders are members with ``is_leader``."""

    __tablename__ = "team_memberships"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)

    team: Mapped[Team] = relationship(back_populates="memberships", lazy="raise")


class Pipeline(Base):
    """A sales pipeline: an ordered list of stages."""

    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Stage(Base):
    """A stage of a pipeline, with its order and win probability (whole percent, 0–100)."""

    __tablename__ = "stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    probability: Mapped[int] = mapped_column(SmallInteger)
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (CheckConstraint("probability >= 0 AND probability <= 100", name="probability_range"),)


class Deal(Base):
    """A deal: value, cost (so gross profit), owner, pipeline stage, status and timestamps."""

    #: The column naming the credited user: who may see a row is decided by it (access.policy.row_condition).
    credited_user = "owner_id"

    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    value: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    cost: Mapped[Decimal] = mapped_column(Money())
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    status: Mapped[DealStatus] = mapped_column(Enum(DealStatus, name="deal_status", native_enum=False, length=16))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    won_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("value >= 0", name="value_non_negative"),
        CheckConstraint("cost >= 0", name="cost_non_negative"),
        # Goal types place deals in periods by these timestamps, credited to the owner.
        Index("ix_deals_owner_added", "owner_id", "added_at"),
        Index("ix_deals_owner_won", "owner_id", "won_at"),
        Index("ix_deals_stage", "stage_id"),
        Index("ix_deals_pipeline_status", "pipeline_id", "status"),
    )


class DealStageChange(Base):
    """A deal entering a stage: the history "deals progressed" goals count."""

    __tablename__ = "deal_stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("deal_id", "stage_id", "entered_at"),
        Index("ix_deal_stage_changes_stage_entered", "stage_id", "entered_at"),
        Index("ix_deal_stage_changes_owner_entered", "owner_id", "entered_at"),
    )


class Activity(Base):
    """A CRM activity (call, meeting, email, task …), optionally about a deal."""

    #: The column naming the credited user: who may see a row is decided by it (access.policy.row_condition).
    credited_user = "owner_id"

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_activities_owner_added", "owner_id", "added_at"),
        Index("ix_activities_owner_done", "owner_id", "done_at"),
        Index("ix_activities_type", "type"),
    )


class ExchangeRate(Base):
    """One unit of ``currency`` is worth ``rate`` units of ``quote_currency`` from ``valid_from`` on."""

    __tablename__ = "exchange_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    quote_currency: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal())

    __table_args__ = (UniqueConstraint("currency", "quote_currency", "valid_from"),)


class FeatureToggle(Base):
    """An admin's switch for a licensed feature (absent = on when licensed)."""

    __tablename__ = "feature_toggles"

    feature: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[str | None] = mapped_column(String(128))


class InstalledLicence(Base):
    """The licence token an admin installed (row id 1); it wins over GOALGRAPH_LICENCE."""

    __tablename__ = "installed_licence"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(8000))
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    installed_by: Mapped[str | None] = mapped_column(String(128))
