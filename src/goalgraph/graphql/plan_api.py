"""The targets plan over GraphQL: read the yearly grid, set many cells at once, copy a year."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from goalgraph.access import policy
from goalgraph import targets_files
from goalgraph import targets_plan as plans
from goalgraph.goals.errors import GoalInvalid, GoalProblem
from goalgraph.access.gate import LicenceRequired
from goalgraph.graphql.errors import (
    ConflictError,
    ErrorCode,
    ForbiddenError,
    LicenceRequiredError,
    LockedError,
    NotFoundError,
    ValidationError,
)
from goalgraph.graphql.goal_mutations import AssigneeInput, after_goal_change, announce_goal_change, problem_error
from goalgraph.graphql.types.goals import AssigneeKind, GoalAssignee, GoalNode, Interval
from goalgraph.graphql.types.facts import TeamType, UserType


@strawberry.input(description="Which plan: year, goal type, measure, interval, currency, fiscal alignment.")
class PlanKeyInput:
    year: int = strawberry.field(description="The (fiscal) year, e.g. 2026 (a fiscal year is named by its start).")
    goal_type: str = strawberry.field(description="Goal type key.")
    measure: str = strawberry.field(description="Measure key.")
    interval: Interval = strawberry.field(description="WEEKLY, MONTHLY, QUARTERLY or YEARLY.")
    currency: str | None = strawberry.field(default=None, description="Money measures; default the organisation's.")
    fiscal: bool = strawberry.field(default=False, description="Use the fiscal year.")

    def key(self) -> plans.PlanKey:
        return plans.PlanKey(self.year, self.goal_type, self.measure, self.interval.value, self.currency, self.fiscal)


@strawberry.type(description="A column of the plan.")
class PlanPeriod:
    index: int = strawberry.field(description="Column position.")
    label: str = strawberry.field(description="Period label.")
    start_date: date = strawberry.field(description="First day.")
    end_date: date = strawberry.field(description="Last day.")


@strawberry.type(description="One assignee's line: targets (null where none is set) and actuals per period.")
class PlanRow:
    assignee: GoalAssignee = strawberry.field(description="The company, a team or a user.")
    goal: GoalNode | None = strawberry.field(description="The plan goal holding the targets, once created.")
    targets: list[Decimal | None] = strawberry.field(description="Target per period.")
    actuals: list[Decimal] = strawberry.field(description="Actual per period, measured live.")
    member_targets: list[Decimal | None] | None = strawberry.field(
        description="Team rows: sum of the members' targets per period (a guideline); null for other rows."
    )
    key: str = strawberry.field(description="The row's key: COMPANY, TEAM:<team id> or USER:<user id>.")
    parent_key: str | None = strawberry.field(
        description="The key of the row this one sits under (the company over teams and users in no team, a team "
                    "over its members); null for a top row. A user in several teams names the first (see childKeys).")
    depth: int = strawberry.field(description="0 for a top row, 1 under it, 2 under that (company → team → user).")
    child_keys: list[str] = strawberry.field(
        description="The keys of the rows under this one, in row order (a user in several teams is under each).")
    has_children: bool = strawberry.field(description="Some rows sit under this one (it can be expanded).")
    children_targets: list[Decimal | None] | None = strawberry.field(
        description="Rows with children: the children's targets summed per period (null where none has one); "
                    "null for rows without children.")
    children_actuals: list[Decimal] | None = strawberry.field(
        description="Rows with children: the children's actuals summed per period; null for rows without children.")
    target_mismatch: list[bool] = strawberry.field(
        description="Per period: this row's target differs from its children's sum (a guideline: they need not "
                    "match); false where either is missing.")


@strawberry.type(description="The targets plan: company, teams and users × periods.")
class TargetsPlan:
    periods: list[PlanPeriod] = strawberry.field(description="Columns.")
    rows: list[PlanRow] = strawberry.field(
        description="Company first, then teams, then active users (those the viewer may see); parentKey, depth and "
                    "childKeys place them in the hierarchy company → team → user.")


@strawberry.input(description="One cell of the plan.")
class PlanCellInput:
    assignee: AssigneeInput = strawberry.field(description="The row.")
    period_start: date = strawberry.field(description="The column: the period's first day.")
    target: Decimal = strawberry.field(description="The target (≥ 0).")


@strawberry.type(description="The plan was saved.")
class PlanSaved:
    goals_changed: int = strawberry.field(description="Plan goals created or changed.")


PlanPayload = Annotated[
    PlanSaved | ValidationError | NotFoundError | ConflictError | LockedError | ForbiddenError | LicenceRequiredError,
    strawberry.union("PlanPayload", description="How many plan goals changed, or why nothing was saved."),
]


@strawberry.type(description="A target a file changes (or would change, with dryRun).")
class PlanTargetChange:
    key: str = strawberry.field(description="The plan row's key (PlanRow.key): COMPANY, TEAM:<id> or USER:<id>.")
    name: str = strawberry.field(description="The row's name.")
    period_start: date = strawberry.field(description="The period's first day (the file's column).")
    period_label: str = strawberry.field(description="The period's label.")
    before: Decimal | None = strawberry.field(description="The target before; null where none was set.")
    after: Decimal = strawberry.field(description="The target from the file.")


@strawberry.type(description="What a targets file set (or would set, with dryRun).")
class TargetsImported:
    cells: int = strawberry.field(description="Targets read from the file (empty cells leave targets as they are).")
    goals_changed: int = strawberry.field(description="Plan goals created or changed.")
    dry_run: bool = strawberry.field(description="True when nothing was saved (checked only).")
    changes: list[PlanTargetChange] = strawberry.field(
        description="The file's targets that differ from the plan before the import, in file order (cells equal to "
                    "the target already set are not listed).")


@strawberry.type(description="One problem of a targets file, by line and column.")
class TargetsFileError:
    line: int = strawberry.field(description="1-based line of the file (1 is the header).")
    column: str = strawberry.field(description="The column's header (a period start, kind, id) or 'row' / 'header'.")
    message: str = strawberry.field(description="What is wrong.")


@strawberry.type(description="The file was refused; nothing was saved.")
class TargetsFileRejectedError:
    code: ErrorCode = strawberry.field(description="VALIDATION.")
    message: str = strawberry.field(description="The first problems, in words.")
    errors: list[TargetsFileError] = strawberry.field(description="Every problem found.")


TargetsImportPayload = Annotated[
    TargetsImported | TargetsFileRejectedError | ValidationError | ForbiddenError | LicenceRequiredError | LockedError
    | ConflictError | NotFoundError,
    strawberry.union("TargetsImportPayload", description="What a targets file set, or why nothing was saved."),
]


@strawberry.type(description="Plan queries.")
class PlanQueries:
    @strawberry.field(description="The targets plan as CSV (docs/goals.md, \"Targets as files\"): kind,id,name and one "
                                  "column per period start, the rows the viewer may see.")
    async def targets_plan_csv(self, info: Info, key: PlanKeyInput) -> str:
        from goalgraph.graphql.errors import ErrorCode, query_error

        viewer = await info.context.viewer()
        if not policy.can_use_targets(viewer):
            raise query_error(policy.TARGETS_RIGHT_NEEDED, ErrorCode.FORBIDDEN)
        try:
            async with info.context.db() as session:
                return await targets_files.export_csv(session, info.context.runtime.registry, key.key(), viewer)
        except GoalInvalid as problem:
            raise query_error(f"key: {problem.message}", ErrorCode.BAD_USER_INPUT) from None

    @strawberry.field(description="The yearly targets grid (SuperOffice's targets dialog).")
    async def targets_plan(self, info: Info, key: PlanKeyInput) -> TargetsPlan:
        from goalgraph.graphql.errors import ErrorCode, query_error

        viewer = await info.context.viewer()
        if not policy.can_use_targets(viewer):
            raise query_error(policy.TARGETS_RIGHT_NEEDED, ErrorCode.FORBIDDEN)
        try:
            async with info.context.db() as session:
                plan = await plans.load_plan(session, info.context.runtime.registry, key.key(), viewer)
        except GoalInvalid as problem:
            raise query_error(f"key: {problem.message}", ErrorCode.BAD_USER_INPUT) from None
        rows = []
        for row in plan.rows:
            assignee = GoalAssignee(kind=AssigneeKind(row.kind), user=UserType(row=row.user) if row.user else None,
                                    team=TeamType(row=row.team) if row.team else None)
            rows.append(PlanRow(assignee=assignee, goal=GoalNode(row=row.goal) if row.goal else None,
                                targets=row.targets, actuals=row.actuals,
                                member_targets=row.member_sums if row.team is not None else None,
                                key=row.key, parent_key=row.parent_key, depth=row.depth, child_keys=row.child_keys,
                                has_children=bool(row.child_keys),
                                children_targets=row.children_targets if row.child_keys else None,
                                children_actuals=row.children_actuals if row.child_keys else None,
                                target_mismatch=row.mismatch))
        return TargetsPlan(
            periods=[PlanPeriod(index=p.index, label=p.label, start_date=p.start_date, end_date=p.end_date)
                     for p in plan.periods],
            rows=rows,
        )


@strawberry.type(description="Plan mutations.")
class PlanMutations:
    @strawberry.mutation(description="Set many cells of a plan at once, atomically; missing plan goals are created.")
    async def set_plan_targets(self, info: Info, key: PlanKeyInput, cells: list[PlanCellInput]) -> PlanPayload:
        cells_ = [plans.PlanCell(c.assignee.kind.value, c.assignee.id, c.period_start, c.target) for c in cells]
        viewer, gate = await info.context.viewer(), await info.context.gate()
        try:
            async with info.context.transaction() as session:
                changed = await plans.set_plan_targets(session, info.context.runtime.registry, key.key(), cells_,
                                                       viewer=viewer, gate=gate, now=info.context.now)
                # Many goals' targets: every subscriber is pushed when this commits.
                await announce_goal_change(info, session, None)
        except (GoalProblem, LicenceRequired) as problem:
            return problem_error(problem)
        after_goal_change(info, None)
        return PlanSaved(goals_changed=changed)

    @strawberry.mutation(description="Set many targets from a CSV file's text (as targetsPlanCsv writes it): all or "
                                     "nothing; every problem named by line and column; cells equal to the target set are not written; "
                                     "dryRun checks without saving.")
    async def import_targets_plan(self, info: Info, key: PlanKeyInput, csv: str,
                                  dry_run: bool = False) -> TargetsImportPayload:
        viewer, gate = await info.context.viewer(), await info.context.gate()
        try:
            async with info.context.transaction() as session:
                done = await targets_files.import_file(session, info.context.runtime.registry, key.key(), csv,
                                                       viewer=viewer, gate=gate, now=info.context.now)
                cells, changed = done.cells, done.goals_changed
                changes = [PlanTargetChange(key=c.key, name=c.name, period_start=c.period_start,
                                            period_label=c.period_label, before=c.before, after=c.after)
                           for c in done.changes]
                if dry_run:
                    raise _DryRun(cells, changed)
                await announce_goal_change(info, session, None)
        except _DryRun as checked:
            return TargetsImported(cells=checked.cells, goals_changed=checked.changed, dry_run=True, changes=changes)
        except targets_files.TargetsFileRejected as rejected:
            return TargetsFileRejectedError(code=ErrorCode.VALIDATION, message=str(rejected), errors=[
                TargetsFileError(line=e.line, column=e.column, message=e.message) for e in rejected.errors])
        except (GoalProblem, LicenceRequired) as problem:
            return problem_error(problem)
        after_goal_change(info, None)
        return TargetsImported(cells=cells, goals_changed=changed, dry_run=False, changes=changes)

    @strawberry.mutation(description="Start another year's plan as a copy of this one, scaled (110 = +10 %).")
    async def copy_targets_plan(self, info: Info, key: PlanKeyInput, to_year: int,
                                scale_percent: Decimal = Decimal(100)) -> PlanPayload:
        viewer, gate = await info.context.viewer(), await info.context.gate()
        try:
            async with info.context.transaction() as session:
                changed = await plans.copy_plan(session, info.context.runtime.registry, key.key(), to_year,
                                                scale_percent, viewer=viewer, gate=gate, now=info.context.now)
                # Many goals' targets: every subscriber is pushed when this commits.
                await announce_goal_change(info, session, None)
        except (GoalProblem, LicenceRequired) as problem:
            return problem_error(problem)
        after_goal_change(info, None)
        return PlanSaved(goals_changed=changed)


class _DryRun(Exception):
    """Rolls a checked import back (the transaction ends in an exception)."""

    def __init__(self, cells: int, changed: int) -> None:
        self.cells, self.changed = cells, changed
