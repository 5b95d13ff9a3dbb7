"""Targets as files: the targets plan's grid as CSV, out and back in.

One row per assignee (``kind``, ``id`` — the CRM id, empty for the company — and ``name``, which is
read-only), one column per period, headed by the period's first day (ISO date). An empty cell leaves
that target as it is. Importing checks every cell first and names each problem by line and column;
then writes all of it in the caller's transaction through the targets plan (so the same rights,
licence and goal rules apply), or nothing. A cell equal to the target already set is not written
(a downloaded file comes back changing only what was edited).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.access.gate import Gate
from goalgraph.access.viewer import Viewer
from goalgraph.goals.errors import GoalInvalid
from goalgraph.registry import Registry
from goalgraph.targets_plan import Plan, PlanCell, PlanKey, load_plan, set_plan_targets

FIXED = ("kind", "id", "name")
KINDS = ("COMPANY", "TEAM", "USER")
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class LineError:
    """One problem of an imported file: 1-based line, the column's header, what is wrong."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.message}"


class TargetsFileRejected(ValueError):
    """The file was refused as a whole; ``errors`` name every problem."""

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        super().__init__("; ".join(map(str, errors[:5])) + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""))


async def export_csv(session: AsyncSession, registry: Registry, key: PlanKey, viewer: Viewer) -> str:
    """The plan the viewer may see, as CSV (rows the viewer may not see are left out, as in the grid)."""
    plan = await load_plan(session, registry, key, viewer)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FIXED, *(p.start_date.isoformat() for p in plan.periods)])
    for row in plan.rows:
        ext = row.user.external_id if row.user else row.team.external_id if row.team else ""
        name = row.user.name if row.user else row.team.name if row.team else "Company"
        writer.writerow([row.kind, ext, name, *("" if t is None else format(t, "f") for t in row.targets)])
    return out.getvalue()


def parse_csv(text: str, period_starts: list[date]) -> list[PlanCell]:
    """The cells a file sets; TargetsFileRejected naming every problem by line and column."""
    if len(text.encode()) > MAX_BYTES:
        raise TargetsFileRejected([LineError(1, "file", f"larger than {MAX_BYTES // (1024 * 1024)} MB")])
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise TargetsFileRejected([LineError(1, "header", "the file is empty: expected kind,id,name,<period starts>")])
    header = [h.strip() for h in rows[0]]
    errors: list[LineError] = []
    if [h.lower() for h in header[:3]] != list(FIXED):
        errors.append(LineError(1, "header", f"must start with kind,id,name (found {','.join(header[:3])!r})"))
    columns: list[date | None] = []
    known = set(period_starts)
    for name in header[3:]:
        try:
            day = date.fromisoformat(name)
        except ValueError:
            errors.append(LineError(1, name or "(empty)", "not a date (YYYY-MM-DD, the first day of a period)"))
            columns.append(None)
            continue
        if day not in known:
            errors.append(LineError(1, name, "does not start a period of this plan"))
        columns.append(day)
    if errors:
        raise TargetsFileRejected(errors)
    cells: list[PlanCell] = []
    seen: dict[tuple[str, str | None], int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(header):
            errors.append(LineError(number, "row", f"{len(row)} cells for {len(header)} columns"))
            continue
        kind = row[0].strip().upper()
        ext = row[1].strip() if len(row) > 1 else ""
        if kind not in KINDS:
            errors.append(LineError(number, "kind", f"{row[0]!r} is not one of {', '.join(KINDS)}"))
            continue
        if (kind == "COMPANY") != (ext == ""):
            errors.append(LineError(number, "id", "the company row has no id" if kind == "COMPANY"
                                    else f"a {kind.lower()} row needs the {kind.lower()}'s CRM id"))
            continue
        who = (kind, ext or None)
        if who in seen:
            errors.append(LineError(number, "id", f"{kind.lower()} {ext or 'company'} is also on line {seen[who]}"))
            continue
        seen[who] = number
        for day, cell in zip(columns, row[3:]):
            value = cell.strip().replace(" ", "").replace("\u00a0", "")
            if value == "":
                continue
            try:
                target = Decimal(value.replace(",", ""))
            except InvalidOperation:
                errors.append(LineError(number, day.isoformat(), f"{cell!r} is not a number"))  # type: ignore[union-attr]
                continue
            if not target.is_finite() or target < 0:
                errors.append(LineError(number, day.isoformat(), f"{cell!r}: a target is a number ≥ 0"))  # type: ignore[union-attr]
                continue
            cells.append(PlanCell(kind, ext or None, day, target))  # type: ignore[arg-type]
    if errors:
        raise TargetsFileRejected(errors)
    return cells


@dataclass(frozen=True)
class TargetChange:
    """A target a file changes: the plan row (its key and name), the period, the target before and after."""

    key: str
    name: str
    period_start: date
    period_label: str
    before: Decimal | None
    after: Decimal


@dataclass(frozen=True)
class Imported:
    """What a file set: the cells read, the plan goals created or changed, the targets that changed."""

    cells: int
    goals_changed: int
    changes: list[TargetChange]


def _diff(plan: Plan, cells: list[PlanCell]) -> tuple[list[TargetChange], list[PlanCell]]:
    """The targets the cells change (rows of the plan, in file order) and the cells to write.

    A cell equal to the target already set is left out of the write: a downloaded file uploaded again
    changes only what was edited, so rows the viewer may see but not change (the company for a team
    leader) do not refuse it. Cells of rows outside the viewer's plan are written, and so refused.
    """
    rows = {(r.kind, (r.user or r.team).external_id if r.kind != "COMPANY" else None): r  # type: ignore[union-attr]
            for r in plan.rows}
    column = {p.start_date: i for i, p in enumerate(plan.periods)}
    changes, writes = [], []
    for cell in cells:
        row = rows.get((cell.assignee_kind, cell.assignee_id))
        if row is None:
            writes.append(cell)
            continue
        i = column[cell.period_start]
        before = row.targets[i]
        if before is not None and before == cell.target:
            continue
        name = row.user.name if row.user else row.team.name if row.team else "Company"
        changes.append(TargetChange(row.key, name, cell.period_start, plan.periods[i].label, before, cell.target))
        writes.append(cell)
    return changes, writes


async def import_file(session: AsyncSession, registry: Registry, key: PlanKey, text: str, *, viewer: Viewer,
                      gate: Gate, now: datetime) -> Imported:
    """Set the file's targets in the caller's transaction (cells equal to the target set are skipped).

    TargetsFileRejected for a bad file; the plan's own errors (unknown assignee, rights, licence) come
    as GoalInvalid / GoalForbidden / LicenceRequired, naming the row they are about.
    """
    plan = await load_plan(session, registry, key, viewer)
    cells = parse_csv(text, [p.start_date for p in plan.periods])
    changes, writes = _diff(plan, cells)
    if not writes:
        return Imported(len(cells), 0, changes)
    try:
        changed = await set_plan_targets(session, registry, key, writes, viewer=viewer, gate=gate, now=now)
    except GoalInvalid as invalid:
        raise _located(invalid, cells, text) from None
    return Imported(len(cells), changed, changes)


async def import_csv(session: AsyncSession, registry: Registry, key: PlanKey, text: str, *, viewer: Viewer,
                     gate: Gate, now: datetime) -> tuple[int, int]:
    """:func:`import_file`'s (cells read, plan goals created or changed)."""
    done = await import_file(session, registry, key, text, viewer=viewer, gate=gate, now=now)
    return done.cells, done.goals_changed


def _located(invalid: GoalInvalid, cells: list[PlanCell], text: str) -> Exception:
    """The plan's errors, pointed at the file's lines where they name a row."""
    lines = {}
    for number, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        if number > 1 and len(row) > 1:
            lines.setdefault((row[0].strip().upper(), row[1].strip() or None), number)
    out = []
    for e in invalid.errors:
        where = next((lines[k] for k in lines if k[1] is not None and str(k[1]) in e.message), 1)
        out.append(LineError(where, ".".join(map(str, e.path)) or "row", e.message))
    return TargetsFileRejected(out)
