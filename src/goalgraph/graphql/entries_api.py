"""Manual goals over GraphQL: entering, correcting and deleting values, and reading them (history too).

Translation only: the rules are in goalgraph.goals.entries and access.policy.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from goalgraph.access.gate import LicenceRequired
from goalgraph.db.models import Goal, GoalEntry
from goalgraph.goals import entries
from goalgraph.goals.errors import GoalInvalid, GoalProblem
from goalgraph.graphql.errors import ErrorCode, ForbiddenError, LicenceRequiredError, NotFoundError, ValidationError
from goalgraph.graphql.goal_mutations import after_goal_change, announce_goal_change, problem_error
from goalgraph.graphql.pagination import Connection, Edge, PageInfo, check_page_size, decode_cursor, encode_cursor
from goalgraph.graphql.types.facts import UserType
from goalgraph.graphql.types.goals import GoalNode
from goalgraph.live.changes import goal_followers


@strawberry.type(name="GoalEntry", description="A value entered by hand for a manual goal, for one local day. "
                 "A correction is a new entry replacing the old one, which stays as history (supersededAt).")
class GoalEntryNode:
    row: strawberry.Private[GoalEntry]

    @strawberry.field(description="Entry id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field(description="The local day the value is for (places it in a period).")
    def on(self) -> date:
        return self.row.occurred_on

    @strawberry.field(description="The value.")
    def value(self) -> Decimal:
        v = self.row.value
        return v.quantize(Decimal(1)) if v == v.to_integral_value() else v.normalize()

    @strawberry.field(description="The note entered with it.")
    def note(self) -> str | None:
        return self.row.note

    @strawberry.field(description="Who entered it: the token's subject (a user's CRM id, or a service).")
    def entered_by(self) -> str:
        return self.row.entered_by

    @strawberry.field(description="The user who entered it; null for a service.")
    async def entered_by_user(self, info: Info) -> UserType | None:
        if self.row.entered_by_user_id is None:
            return None
        user = await info.context.loaders.user.load(self.row.entered_by_user_id)
        return UserType(row=user) if user is not None else None

    @strawberry.field(description="When it was entered.")
    def entered_at(self) -> datetime:
        return self.row.entered_at

    @strawberry.field(description="True while it counts (neither corrected nor deleted).")
    def current(self) -> bool:
        return self.row.superseded_at is None and self.row.deleted_at is None

    @strawberry.field(description="The entry this one corrects, if any (its id).")
    def replaces_id(self) -> strawberry.ID | None:
        return None if self.row.replaces_id is None else strawberry.ID(str(self.row.replaces_id))

    @strawberry.field(description="The entry that corrected this one, if any (its id).")
    def superseded_by_id(self) -> strawberry.ID | None:
        return None if self.row.superseded_by_id is None else strawberry.ID(str(self.row.superseded_by_id))

    @strawberry.field(description="When it was corrected; null while it counts.")
    def superseded_at(self) -> datetime | None:
        return self.row.superseded_at

    @strawberry.field(description="When it was deleted; null unless deleted.")
    def deleted_at(self) -> datetime | None:
        return self.row.deleted_at

    @strawberry.field(description="Who deleted it (the token's subject).")
    def deleted_by(self) -> str | None:
        return self.row.deleted_by


@strawberry.type(description="The entry as stored after the change, and its goal.")
class GoalEntrySuccess:
    entry: GoalEntryNode = strawberry.field(description="The entry written (for a deletion: the deleted one).")
    goal: GoalNode = strawberry.field(description="The goal (its periods show the new actual).")


GoalEntryPayload = Annotated[
    GoalEntrySuccess | ValidationError | NotFoundError | ForbiddenError | LicenceRequiredError,
    strawberry.union("GoalEntryPayload", description="The entry, or why the change was refused."),
]


def _error(problem: GoalProblem | LicenceRequired, given_id: object) -> Any:
    if isinstance(problem, GoalInvalid):  # the mutation's own argument names
        return ValidationError.from_fact_errors(problem.errors)
    if isinstance(problem, entries.EntryNotFound):
        return NotFoundError(code=ErrorCode.NOT_FOUND, message=problem.message,
                             missing_id=strawberry.ID(str(given_id)))
    return problem_error(problem, given_id)


async def _write(info: Info, given_id: object, action: Any) -> Any:
    """One transaction: the write, its stale marks (inside ``action``) and the goal's live push; the
    recompute worker is woken after the commit."""
    try:
        async with info.context.transaction() as session:
            entry: GoalEntry = await action(session)
            goal = await session.get(Goal, entry.goal_id)
            await announce_goal_change(info, session, await goal_followers(session, [entry.goal_id]))
    except (GoalProblem, LicenceRequired) as problem:
        return _error(problem, given_id)
    after_goal_change(info, [entry.goal_id])
    info.context.loaders.progress.clear_all()
    return GoalEntrySuccess(entry=GoalEntryNode(row=entry), goal=GoalNode(row=goal))


@strawberry.type(description="Manual goal mutations.")
class EntryMutations:
    @strawberry.mutation(description="Enter a value for a manual goal's day, up to today (the assignee, or whoever "
                                     "may change the goal). The goal's periods show it at once or within moments (pending).")
    async def add_goal_entry(self, info: Info, goal_id: strawberry.ID, on: date, value: Decimal,
                             note: str | None = None) -> GoalEntryPayload:
        ctx = info.context
        viewer, gate, today = await ctx.viewer(), await ctx.gate(), await ctx.today()
        return await _write(info, goal_id, lambda s: entries.add_entry(
            s, ctx.runtime.registry, goal_id, on, value, note, viewer=viewer, gate=gate, now=ctx.now, today=today))

    @strawberry.mutation(description="Correct an entry: a new entry replaces it (new value and note; the day "
                                     "stays unless `on` is given) and the old one stays as history.")
    async def correct_goal_entry(self, info: Info, entry_id: strawberry.ID, value: Decimal, note: str | None = None,
                                 on: date | None = None) -> GoalEntryPayload:
        ctx = info.context
        viewer, gate, today = await ctx.viewer(), await ctx.gate(), await ctx.today()
        return await _write(info, entry_id, lambda s: entries.correct_entry(
            s, ctx.runtime.registry, entry_id, value, note, on, viewer=viewer, gate=gate, now=ctx.now, today=today))

    @strawberry.mutation(description="Delete an entry: it stops counting and stays in the history as deleted.")
    async def delete_goal_entry(self, info: Info, entry_id: strawberry.ID) -> GoalEntryPayload:
        ctx = info.context
        viewer, gate = await ctx.viewer(), await ctx.gate()
        return await _write(info, entry_id, lambda s: entries.delete_entry(
            s, ctx.runtime.registry, entry_id, viewer=viewer, gate=gate, now=ctx.now))


async def entries_connection(info: Info, goal: Goal, first: int, after: str | None,
                             history: bool) -> Connection[GoalEntryNode]:
    """Goal.entries: a visible goal's entries, newest first."""
    check_page_size(first, info.context.runtime.settings.max_page_size)
    after_id = decode_cursor("GoalEntry", after) if after is not None else None
    async with info.context.db() as session:
        page = await entries.entries_of(session, goal.id, first=first, after=after_id, history=history)
    edges = [Edge(cursor=encode_cursor("GoalEntry", e.id), node=GoalEntryNode(row=e)) for e in page.entries]
    return Connection(edges=edges, total=page.total, page_info=PageInfo(
        has_next_page=page.has_next, has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None))


async def contributed_entries(info: Info, keys: list[int | None]) -> list[GoalEntryNode | None]:
    """Drill-down of a manual goal: the entries behind its contributions (row keys), in order."""
    async with info.context.db() as session:
        found = await entries.entries_by_id(session, [k for k in keys if k is not None])
    return [GoalEntryNode(row=found[k]) if k in found else None for k in keys]
