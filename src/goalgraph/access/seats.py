"""Licensed seats: admins assign them to users, within the licence's seat count.

Seats are counted only when a valid licence states a seat count; without one (the free plan, a
licence without ``seats``) nobody needs a seat. Only active users' seats count. When a licence
shrinks below the seats assigned, the seats assigned first are the ones in force until an admin
unassigns the rest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.access.licence import LicenceStatus
from goalgraph.db.models import Organisation, SeatAssignment, User
from goalgraph.errors import FactError, IngestRejected

#: The pseudo-feature named by LICENCE_REQUIRED errors about seats.
SEATS = "SEATS"


def counts_seats(licence: LicenceStatus) -> bool:
    """True when the licence in force limits seats."""
    return licence.valid and licence.seats is not None


async def seated_users(session: AsyncSession, licence: LicenceStatus) -> list[int]:
    """Active users holding a seat in force, in assignment order."""
    query = (select(SeatAssignment.user_id).join(User, User.id == SeatAssignment.user_id)
             .where(User.active.is_(True)).order_by(SeatAssignment.assigned_at, SeatAssignment.user_id))
    if counts_seats(licence):
        query = query.limit(licence.seats)
    return list((await session.scalars(query)).all())


async def has_seat(session: AsyncSession, licence: LicenceStatus, user_id: int | None) -> bool:
    """Whether this user may use what the licence gates (always, when seats are not counted)."""
    if not counts_seats(licence):
        return True
    return user_id is not None and user_id in await seated_users(session, licence)


class SeatsExhausted(Exception):
    """Every seat of the licence is assigned."""

    def __init__(self, seats: int) -> None:
        self.message = f"all {seats} seat(s) of the licence are assigned: unassign a seat or license more seats"
        super().__init__(self.message)


async def set_seat(session: AsyncSession, licence: LicenceStatus, external_id: str, seat: bool, *, actor: str,
                   now: datetime) -> User:
    """Give a user a seat or take it back; SeatsExhausted when none is free."""
    user = await session.scalar(select(User).where(User.external_id == external_id))
    if user is None:
        raise IngestRejected([FactError(("user_id",), f"no user with id {external_id!r}", "UNKNOWN_REFERENCE")])
    row = await session.get(SeatAssignment, user.id)
    if not seat:
        if row is not None:
            await session.delete(row)
            await session.flush()
        return user
    if row is not None:
        return user
    if not user.active:
        raise IngestRejected([FactError(("user_id",), f"user {external_id!r} is deactivated")])
    if counts_seats(licence):
        if session.bind.dialect.name == "postgresql":  # one assigner at a time: the last seat is given once
            await session.execute(select(Organisation.id).where(Organisation.id == 1).with_for_update())
        if len(await seated_users(session, licence)) >= (licence.seats or 0):
            raise SeatsExhausted(licence.seats or 0)
    session.add(SeatAssignment(user_id=user.id, assigned_at=now, assigned_by=actor))
    await session.flush()
    return user
