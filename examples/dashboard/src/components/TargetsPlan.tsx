// The yearly targets grid: company, teams and users × the year's periods, targets editable,
// actuals measured live. Rows form the hierarchy company → team → user (the server's parentKey /
// childKeys): a row with children expands and collapses, and is followed by its children's sum with
// the periods where it differs from the row's own target named in words. The plan goes out and comes
// back in as CSV (a dry run first: the problems by line, or what would change; then Apply).
import { useRef, useState } from "react";
import type { ReactNode } from "react";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { execute } from "../api/client";
import {
  CopyTargetsPlanMutation, ImportTargetsPlanMutation, MeQuery, PlanOptionsQuery, RenameGoalMutation, SetPlanTargetsMutation,
  TargetsPlanCsvQuery, TargetsPlanQuery,
} from "../api/operations";
import type {
  ImportTargetsPlanMutation as ImportResult, Interval, MeQuery as MeResult, PlanCellInput, PlanKeyInput,
  PlanPayloadFieldsFragment, TargetsPlanQuery as PlanResult,
} from "../gql/graphql";
import { amount, assigneeName, compactFor, grouped, num, parseAmount, periodLabel, shortPeriodLabel } from "../format";
import { AmountInput } from "./AmountInput";
import { LockIcon } from "./Icons";

type Row = PlanResult["targetsPlan"]["rows"][number];

const rowKey = (row: Row) => `${row.assignee.kind}:${row.assignee.user?.id ?? row.assignee.team?.id ?? ""}`;

function sum(values: readonly (string | null | undefined)[]): number | null {
  const present = values.filter((v): v is string => v != null && v !== "");
  return present.length ? present.reduce((total, v) => total + num(v), 0) : null;
}

export function TargetsPlan() {
  const options = useQuery({ queryKey: ["plan-options"], queryFn: () => execute(PlanOptionsQuery), staleTime: 60_000 });
  const [year, setYear] = useState(new Date().getFullYear());
  const [goalType, setGoalType] = useState("DEALS_WON");
  const [measure, setMeasure] = useState("VALUE");
  const [interval, setInterval] = useState<Interval>("MONTHLY");
  const [fiscal, setFiscal] = useState(false);
  const type = options.data?.goalTypes.find((t) => t.key === goalType);
  const money = type?.measures.find((m) => m.key === measure)?.money ?? false;
  const currency = money ? options.data?.organisation.defaultCurrency ?? null : null;
  const key: PlanKeyInput = { year, goalType, measure, interval, fiscal, ...(currency ? { currency } : {}) };

  const plan = useQuery({
    queryKey: ["plan", key],
    queryFn: () => execute(TargetsPlanQuery, { key }),
    enabled: !!type && !!type.measures.find((m) => m.key === measure),
    placeholderData: keepPreviousData,
  });
  const me = useQuery({ queryKey: ["me"], queryFn: () => execute(MeQuery), staleTime: Infinity });

  return (
    <section>
      <div className="page-head">
        <div>
          <h1>Targets plan</h1>
          <p className="muted">Set a year's targets for the company, every team and every user at once.</p>
        </div>
        <div className="toolbar">
          <label>
            Year
            <select name="year" value={year} onChange={(e) => setYear(Number(e.target.value))}>
              {[-2, -1, 0, 1, 2].map((d) => {
                const y = new Date().getFullYear() + d;
                return <option key={y} value={y}>{fiscal ? `FY${y}` : y}</option>;
              })}
            </select>
          </label>
          <label>
            Goal type
            <select
              value={goalType}
              onChange={(e) => {
                const next = options.data?.goalTypes.find((t) => t.key === e.target.value);
                setGoalType(e.target.value);
                if (next && !next.measures.some((m) => m.key === measure)) setMeasure(next.measures[0].key);
              }}
            >
              {options.data?.goalTypes.map((t) => <option key={t.key} value={t.key}>{t.label}</option>)}
            </select>
          </label>
          <label>
            Measure
            <select value={measure} onChange={(e) => setMeasure(e.target.value)}>
              {type?.measures.map((m) => <option key={m.key} value={m.key}>{m.label}</option>)}
            </select>
          </label>
          <label>
            Periods
            <select value={interval} onChange={(e) => setInterval(e.target.value as Interval)}>
              <option value="MONTHLY">Months</option>
              <option value="QUARTERLY">Quarters</option>
              <option value="WEEKLY">Weeks</option>
              <option value="YEARLY">Year</option>
            </select>
          </label>
          <label className="check">
            <input type="checkbox" checked={fiscal} onChange={(e) => setFiscal(e.target.checked)} /> Fiscal year
          </label>
        </div>
      </div>
      {(options.isPending || plan.isPending) && <p className="muted">Loading plan…</p>}
      {options.isError && <p className="error">{options.error.message}</p>}
      {plan.isError && <p className="error">{plan.error.message}</p>}
      {plan.data && me.data && !plan.isPlaceholderData && (
        <PlanGrid key={JSON.stringify(key)} planKey={key} plan={plan.data.targetsPlan} currency={currency} me={me.data}
          typeLabel={type?.label ?? goalType} yearLabel={fiscal ? `FY${year}` : String(year)} />
      )}
      {plan.isPlaceholderData && <p className="muted" role="status">Loading the {fiscal ? `FY${year}` : year} plan…</p>}
    </section>
  );
}

/**
 * May the viewer set targets for this assignee when it has no plan goal yet? This mirrors the
 * server's rule (access/policy.py can_change_assignee) from what `me` tells; the server still decides.
 * (A `PlanRow.viewerCanEdit` field would make this copy unnecessary; see docs/dashboard.md.)
 */
function mayCreateFor(me: MeResult, assignee: Row["assignee"]): boolean {
  const { access, user } = me.me;
  if (access.admin || access.role === "SYSTEM") return true;
  const fullRights = access.seeCompanyStatistics && access.seeOtherUsersStatistics;
  const led = (user?.teams ?? []).filter((t) => t.leaders.some((l) => l.id === user?.id));
  if (assignee.kind === "USER") {
    if (assignee.user?.id === user?.id) return true;
    return fullRights && led.some((t) => t.members.some((m) => m.id === assignee.user?.id));
  }
  if (assignee.kind === "TEAM") return fullRights && led.some((t) => t.id === assignee.team?.id);
  return false;
}

/** Why a row is read-only, or null when the viewer may change it. */
function readOnlyReason(row: Row, me: MeResult): string | null {
  if (row.goal?.locked) return "Targets locked";
  if (row.goal) return row.goal.viewerCan.edit ? null : "You may not change these targets";
  return mayCreateFor(me, row.assignee) ? null : "You may not set targets for this row";
}

const extId = (row: Row) => row.assignee.user?.id ?? row.assignee.team?.id ?? null;

/** An even split of `total` over `n` periods, in cents; the rounding remainder goes to the last one. */
function distribute(total: number, n: number): string[] {
  const cents = Math.round(total * 100);
  const each = Math.floor(cents / n);
  return Array.from({ length: n }, (_, i) => String((i === n - 1 ? cents - each * (n - 1) : each) / 100));
}

type Message = { ok: boolean; text: string; details?: string[] };
type Imported = ImportResult["importTargetsPlan"];
/** A checked (dry-run) or refused file, shown until applied or dismissed. */
type FileCheck = { name: string; text: string; result: Imported };

function PlanGrid({ planKey, plan, currency, me, typeLabel, yearLabel }: {
  planKey: PlanKeyInput; plan: PlanResult["targetsPlan"]; currency: string | null; me: MeResult; typeLabel: string; yearLabel: string;
}) {
  const queryClient = useQueryClient();
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [failed, setFailed] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<Message | null>(null);
  const [busy, setBusy] = useState(false);
  const [copyPercent, setCopyPercent] = useState("0");
  const [splitting, setSplitting] = useState<string | null>(null);
  const [splitTotal, setSplitTotal] = useState("");

  const byKey = new Map(plan.rows.map((r) => [r.key, r]));
  const roots = plan.rows.filter((r) => r.parentKey == null);
  // Top rows start open (the company shows its teams); teams start closed.
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set(roots.filter((r) => r.hasChildren).map((r) => r.key)));
  const [fileCheck, setFileCheck] = useState<FileCheck | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const childrenOf = (row: Row) => row.childKeys.map((k) => byKey.get(k)).filter((r): r is Row => r != null);
  const toggle = (row: Row) => setExpanded((old) => {
    const next = new Set(old);
    if (next.has(row.key)) next.delete(row.key); else next.add(row.key);
    return next;
  });

  const cellKey = (row: Row, i: number) => `${rowKey(row)}:${i}`;
  const value = (row: Row, i: number) => edits[cellKey(row, i)] ?? (row.targets[i] == null ? "" : String(num(row.targets[i])));
  const numeric = (text: string) => parseAmount(text) ?? "";
  const targetsOf = (row: Row) => plan.periods.map((_, i) => numeric(value(row, i)));
  const edited = (row: Row, i: number) => cellKey(row, i) in edits;
  /** The children's sum of one period: the server's, or — with unsaved changes there — the one they would make. */
  const childSum = (row: Row, i: number): number | null => {
    const kids = childrenOf(row);
    if (!kids.some((k) => edited(k, i))) return row.childrenTargets?.[i] == null ? null : num(row.childrenTargets[i]);
    return sum(kids.map((k) => numeric(value(k, i))));
  };
  /** The mismatch flag of one period: the server's (goals/hierarchy.py), or the same comparison over unsaved changes. */
  const mismatch = (row: Row, i: number): boolean => {
    if (!edited(row, i) && !childrenOf(row).some((k) => edited(k, i))) return row.targetMismatch[i] ?? false;
    const mine = numeric(value(row, i));
    const theirs = childSum(row, i);
    return mine !== "" && theirs != null && Math.abs(num(mine) - theirs) > 0.00005;
  };
  const changed = Object.keys(edits).length;
  const anyTargets = plan.rows.some((r) => r.goal != null);

  function setCells(row: Row, values: Record<number, string>) {
    setEdits((old) => ({ ...old, ...Object.fromEntries(Object.entries(values).map(([i, v]) => [cellKey(row, Number(i)), v])) }));
  }

  function fillRight(row: Row) {
    const from = plan.periods.findIndex((_, i) => value(row, i).trim() !== "");
    if (from < 0) return;
    const v = value(row, from);
    setCells(row, Object.fromEntries(plan.periods.map((_, i) => [i, v]).filter(([i]) => Number(i) > from)));
  }

  function applySplit(row: Row) {
    const total = parseAmount(splitTotal);
    if (total == null || total === "") return;
    setCells(row, Object.fromEntries(distribute(Number(total), plan.periods.length).map((v, i) => [i, v])));
    setSplitting(null);
    setSplitTotal("");
  }

  function describeCell(cell: PlanCellInput | undefined): string {
    if (!cell) return "a cell";
    const row = plan.rows.find((r) => r.assignee.kind === cell.assignee.kind && (extId(r) ?? null) === (cell.assignee.id ?? null));
    const period = plan.periods.find((p) => p.startDate === cell.periodStart);
    return `${row ? assigneeName(row.assignee) : cell.assignee.id ?? "Company"} · ${period ? periodLabel(period.label) : cell.periodStart}`;
  }

  /** The refusal as a message naming the cells it is about (and marking them). */
  function refusal(result: Exclude<PlanPayloadFieldsFragment, { __typename: "PlanSaved" }>, cells: PlanCellInput[]): Message {
    const bad = new Set<string>();
    const details: string[] = [];
    if (result.__typename === "ValidationError") {
      for (const f of result.fieldErrors) {
        const at = f.path.indexOf("cells");
        const index = at >= 0 ? Number(f.path[at + 1]) : NaN;
        const cell = Number.isInteger(index) ? cells[index] : undefined;
        if (cell) {
          const row = plan.rows.find((r) => r.assignee.kind === cell.assignee.kind && (extId(r) ?? null) === (cell.assignee.id ?? null));
          const col = plan.periods.findIndex((p) => p.startDate === cell.periodStart);
          if (row && col >= 0) bad.add(cellKey(row, col));
        }
        details.push(`${cell ? describeCell(cell) : f.path.join(".")}: ${f.message}`);
      }
    }
    // Refusals from the goal behind a row (forbidden, locked, a bad target) do not name a cell: when
    // the save touched one row only, it is that row's; otherwise say which rows were in it.
    const rows = [...new Set(cells.map((c) => `${c.assignee.kind}:${c.assignee.id ?? ""}`))];
    if (!bad.size && rows.length === 1) {
      for (const c of cells) {
        const row = plan.rows.find((r) => rowKey(r) === rows[0]);
        const col = plan.periods.findIndex((p) => p.startDate === c.periodStart);
        if (row && col >= 0) bad.add(cellKey(row, col));
      }
      details.push(`${describeCell(cells[0]).split(" · ")[0]}: ${result.message}`);
    } else if (!bad.size && rows.length > 1) {
      details.push(`The server did not say which cell; this save changed ${rows.length} rows: `
        + rows.map((k) => { const r = plan.rows.find((x) => rowKey(x) === k); return r ? assigneeName(r.assignee) : k; }).join(", ")
        + ". Save them one row at a time to find it.");
    }
    setFailed(bad);
    return { ok: false, text: `Nothing was saved: ${result.message}`, details };
  }

  /** Plan goals the server created are titled with raw ids; give them the assignee's name. */
  async function nameNewGoals(before: Set<string>) {
    const fresh = await execute(TargetsPlanQuery, { key: planKey });
    const renames = fresh.targetsPlan.rows.filter((r) => {
      const id = extId(r) ?? "company";
      return r.goal && !before.has(rowKey(r)) && r.goal.viewerCan.edit && r.goal.title.endsWith(` — ${id}`);
    });
    await Promise.all(renames.map((r) => execute(RenameGoalMutation, {
      id: r.goal!.id, version: r.goal!.version, title: `${typeLabel} ${yearLabel} — ${assigneeName(r.assignee)}`,
    })));
  }

  async function finish(result: PlanPayloadFieldsFragment, cells: PlanCellInput[], done: string) {
    if (result.__typename === "PlanSaved") {
      await nameNewGoals(new Set(plan.rows.filter((r) => r.goal).map(rowKey)));
      await queryClient.invalidateQueries({ queryKey: ["plan"] });
      await queryClient.invalidateQueries({ queryKey: ["goals"] });
      setEdits({});
      setFailed(new Set());
      setMessage({ ok: true, text: `${done}: ${result.goalsChanged} plan goal${result.goalsChanged === 1 ? "" : "s"} changed.` });
    } else {
      setMessage(refusal(result, cells));
    }
  }

  async function save() {
    const bad = Object.entries(edits).filter(([, v]) => parseAmount(v) == null).map(([k]) => k);
    if (bad.length) {
      setFailed(new Set(bad));
      setMessage({ ok: false, text: "Nothing was saved: some cells are not numbers (marked in red).", details: [] });
      return;
    }
    const cells: PlanCellInput[] = Object.entries(edits)
      .filter(([, v]) => parseAmount(v) !== "")
      .map(([k, v]) => {
        const [kind, id, index] = k.split(":");
        return {
          assignee: kind === "COMPANY" ? { kind: "COMPANY" } : { kind: kind as "USER" | "TEAM", id },
          periodStart: plan.periods[Number(index)].startDate,
          target: parseAmount(v)!,
        };
      });
    if (!cells.length) return;
    setBusy(true);
    setMessage(null);
    try {
      const { setPlanTargets: result } = await execute(SetPlanTargetsMutation, { key: planKey, cells });
      await finish(result, cells, "Saved");
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  }

  async function copyLastYear() {
    const pct = parseAmount(copyPercent.replace(/^\+/, "").replace(/^-/, "")) ;
    const sign = copyPercent.trim().startsWith("-") ? -1 : 1;
    if (pct == null || pct === "") {
      setMessage({ ok: false, text: "The change in % must be a number, e.g. 10 or -5." });
      return;
    }
    const scale = 100 + sign * Number(pct);
    setBusy(true);
    setMessage(null);
    try {
      const source = { ...planKey, year: planKey.year - 1 };
      const { copyTargetsPlan: result } = await execute(CopyTargetsPlanMutation, { key: source, toYear: planKey.year, scalePercent: String(scale) });
      await finish(result, [], `Copied ${yearLabel.replace(String(planKey.year), String(planKey.year - 1))}'s targets ${sign * Number(pct) >= 0 ? "+" : ""}${sign * Number(pct)} %`);
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  }

  const renderRow = (row: Row, depth: number, path: string) => {
    const className = row.assignee.kind.toLowerCase();
    const open = expanded.has(row.key);
    const differing = row.hasChildren ? plan.periods.filter((_, i) => mismatch(row, i)).length : 0;
    const reason = readOnlyReason(row, me);
    const rowTotal = sum(targetsOf(row));
    const actualTotal = sum(row.actuals);
    const name = assigneeName(row.assignee);
    const editedHere = plan.periods.filter((_, i) => cellKey(row, i) in edits).length;
    const emptyHere = plan.periods.filter((_, i) => value(row, i).trim() === "").length;
    const compact = compactFor([...row.actuals, actualTotal, rowTotal]);
    return (
      <tr key={path} className={`${className} depth-${depth}`} data-testid="plan-row" data-assignee={rowKey(row)} data-key={row.key}
        data-depth={depth} data-readonly={reason ? "true" : undefined}>
        <th scope="row" style={{ paddingLeft: `${0.35 + depth * 1.2}rem` }}>
          <span className="row-name">
            {row.hasChildren ? (
              <button type="button" className="tree-toggle" aria-expanded={open} data-testid="plan-toggle"
                aria-label={`Rows under ${name} (${row.childKeys.length})`} title={open ? `Hide the rows under ${name}` : `Show the rows under ${name}`}
                onClick={() => toggle(row)}>
                <span aria-hidden="true">{open ? "▾" : "▸"}</span>
              </button>
            ) : depth > 0 && <span className="tree-leaf" aria-hidden="true" />}
            {name}
            {row.goal?.locked && <> <LockIcon label="Targets locked" /></>}
          </span>
          {differing > 0 && (
            <span className="mismatch-summary" data-testid="plan-mismatch">
              Target differs from the {row.assignee.kind === "COMPANY" ? "rows" : "members'"} sum in {differing} period{differing === 1 ? "" : "s"}
            </span>
          )}
          {!reason && (
            <span className="row-tools">
              <button type="button" className="secondary" onClick={() => fillRight(row)} title={`Copy ${name}'s first target into every later period`}
                aria-label={`Fill right ${name}: copy the first target into every later period`} data-testid="fill-right">Fill right</button>
              <button type="button" className="secondary" onClick={() => { setSplitting(rowKey(row)); setSplitTotal(rowTotal == null ? "" : String(rowTotal)); }}
                aria-label={`Split a year total evenly over ${name}'s periods`} data-testid="distribute">Split</button>
            </span>
          )}
          {splitting === rowKey(row) && (
            <span className="split-box">
              <AmountInput value={splitTotal} onChange={setSplitTotal} aria-label={`Year total to split evenly over ${name}'s periods`} autoFocus
                onKeyDown={(e) => { if (e.key === "Enter") applySplit(row); if (e.key === "Escape") setSplitting(null); }} />
              <button type="button" className="secondary" onClick={() => applySplit(row)}>Split evenly</button>
            </span>
          )}
          {!row.goal && editedHere > 0 && emptyHere > 0 && (
            <span className="new-row-note">{emptyHere} empty period{emptyHere === 1 ? "" : "s"} will get target 0: use Fill right or Split.</span>
          )}
        </th>
        {plan.periods.map((p, i) => {
          const target = value(row, i);
          const t = num(parseAmount(target) ?? "");
          const ratio = t > 0 ? num(row.actuals[i]) / t : null;
          const tone = ratio == null ? "" : ratio >= 1 ? "good" : ratio >= 0.7 ? "near" : "low";
          const key = cellKey(row, i);
          const label = `${name} ${periodLabel(p.label)} target`;
          return (
            <td key={p.index} className={`${tone}${key in edits ? " edited" : ""}${failed.has(key) ? " failed" : ""}${reason ? " readonly" : ""}`}>
              {reason ? (
                <span className="value" title={reason}>{target === "" ? "–" : grouped(parseAmount(target) ?? target)}</span>
              ) : (
                <AmountInput
                  value={target}
                  aria-label={label}
                  aria-invalid={failed.has(key) || undefined}
                  data-testid="plan-cell"
                  onChange={(text) => setEdits((old) => ({ ...old, [key]: text }))}
                />
              )}
              <span className="actual" title="Actual">{amount(row.actuals[i], currency, compact)}</span>
            </td>
          );
        })}
        <td className="total">
          <strong>{rowTotal == null ? "–" : amount(rowTotal, currency, compact)}</strong>
          <span className="actual">{amount(actualTotal ?? 0, currency, compact)}</span>
        </td>
      </tr>
    );
  };

  /** The children's sum under a parent row, each period marked in words where it differs from the row's target. */
  const renderSums = (row: Row, depth: number, path: string) => {
    const values = plan.periods.map((_, i) => childSum(row, i));
    const total = sum(values.map((v) => (v == null ? null : String(v))));
    const compact = compactFor([...values, total]);
    const name = assigneeName(row.assignee);
    const kids = childrenOf(row);
    const label = row.assignee.kind !== "COMPANY" ? "Members' sum"
      : kids.every((k) => k.assignee.kind === "TEAM") ? "Sum of teams" : "Sum of teams and users in no team";
    return (
      <tr key={`${path}/sum`} className="sum-row" data-testid="plan-sum" data-key={row.key}>
        <th scope="row" style={{ paddingLeft: `${1.6 + depth * 1.2}rem` }}>
          {label}<span className="visually-hidden"> of {name}</span>
        </th>
        {values.map((v, i) => {
          const off = mismatch(row, i);
          const mine = numeric(value(row, i));
          return (
            <td key={i} className={off ? "off" : ""} data-mismatch={off ? "true" : undefined}
              title={off ? `Differs from ${name}'s target ${grouped(String(mine))}` : ""}>
              {v == null ? "–" : amount(String(v), currency, compact)}
              {off && <span className="mismatch-note">≠ target<span className="visually-hidden"> of {name}, {grouped(String(mine))}</span></span>}
            </td>
          );
        })}
        <td className="total">{total == null ? "–" : amount(total, currency, compact)}</td>
      </tr>
    );
  };

  /** A row, its children's sum, and — when it is open — its children, depth first. */
  const renderTree = (row: Row, depth: number, path: string): ReactNode[] => {
    const out: ReactNode[] = [renderRow(row, depth, path)];
    if (row.hasChildren) out.push(renderSums(row, depth, path));
    if (row.hasChildren && expanded.has(row.key)) {
      for (const child of childrenOf(row)) out.push(...renderTree(child, depth + 1, `${path}/${child.key}`));
    }
    return out;
  };

  const fileName = `targets-${planKey.year}${planKey.fiscal ? "-fiscal" : ""}-${planKey.goalType}-${planKey.measure}-${planKey.interval}`.toLowerCase() + ".csv";

  async function downloadCsv() {
    setMessage(null);
    try {
      const { targetsPlanCsv } = await execute(TargetsPlanCsvQuery, { key: planKey });
      const url = URL.createObjectURL(new Blob([targetsPlanCsv], { type: "text/csv;charset=utf-8" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = fileName;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setMessage({ ok: true, text: `Downloaded ${fileName}: one line per row, one column per period. Edit it, then upload it here.` });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    }
  }

  /** A chosen file is checked first (dry run): its problems by line, or what it would change. */
  async function checkFile(file: File) {
    setBusy(true);
    setMessage(null);
    setFileCheck(null);
    try {
      const text = await file.text();
      const { importTargetsPlan: result } = await execute(ImportTargetsPlanMutation, { key: planKey, csv: text, dryRun: true });
      setFileCheck({ name: file.name, text, result });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
      if (fileInput.current) fileInput.current.value = "";
    }
  }

  async function applyFile() {
    if (!fileCheck) return;
    setBusy(true);
    try {
      const before = new Set(plan.rows.filter((r) => r.goal).map(rowKey));
      const { importTargetsPlan: result } = await execute(ImportTargetsPlanMutation, { key: planKey, csv: fileCheck.text, dryRun: false });
      if (result.__typename === "TargetsImported") {
        await nameNewGoals(before);
        await queryClient.invalidateQueries({ queryKey: ["plan"] });
        await queryClient.invalidateQueries({ queryKey: ["goals"] });
        setFileCheck(null);
        const n = result.changes.length;
        setMessage({ ok: true, text: `Imported ${fileCheck.name}: ${n} target${n === 1 ? "" : "s"} changed, ${result.goalsChanged} plan goal${result.goalsChanged === 1 ? "" : "s"} saved.`,
          details: result.changes.map(describeChange) });
      } else {
        setFileCheck({ ...fileCheck, result });
      }
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  }

  const describeChange = (c: Extract<Imported, { __typename: "TargetsImported" }>["changes"][number]) => {
    const row = byKey.get(c.key);
    return `${row ? assigneeName(row.assignee) : c.name} · ${periodLabel(c.periodLabel)}: `
      + `${c.before == null ? "no target" : amount(c.before, currency)} → ${amount(c.after, currency)}`;
  };

  const renderFileCheck = (check: FileCheck) => {
    const r = check.result;
    if (r.__typename === "TargetsImported") {
      const n = r.changes.length;
      return (
        <div className="plan-message ok file-check" role="status" data-testid="csv-preview">
          <strong>{check.name} checked, nothing saved yet:</strong>{" "}
          {n ? `${n} target${n === 1 ? "" : "s"} would change.` : "it changes no target (every cell is empty or as set)."}
          {n > 0 && <ul>{r.changes.map((c) => <li key={`${c.key}:${c.periodStart}`}>{describeChange(c)}</li>)}</ul>}
          <span className="file-actions">
            {n > 0 && <button type="button" className="primary" onClick={applyFile} disabled={busy} data-testid="csv-apply">
              {busy ? "Applying…" : `Apply ${n} change${n === 1 ? "" : "s"}`}</button>}
            <button type="button" className="secondary" onClick={() => setFileCheck(null)} disabled={busy}>
              {n ? "Cancel" : "Close"}</button>
          </span>
        </div>
      );
    }
    const lines = r.__typename === "TargetsFileRejectedError"
      ? r.errors.map((e) => `Line ${e.line}${e.column && e.column !== "row" ? `, ${e.column}` : ""}: ${e.message}`)
      : r.__typename === "ValidationError" ? r.fieldErrors.map((f) => `${f.path.join(".")}: ${f.message}`) : [];
    const count = r.__typename === "TargetsFileRejectedError" ? r.errors.length : 0;
    return (
      <div className="plan-message error file-check" role="alert" data-testid="csv-errors">
        <strong>{check.name} was not imported{count ? `: ${count} problem${count === 1 ? "" : "s"}` : ""}.</strong>{" "}
        {r.__typename === "TargetsFileRejectedError" ? "Nothing was saved; correct the file and upload it again." : r.message}
        {lines.length > 0 && <ul>{lines.map((l) => <li key={l}>{l}</li>)}</ul>}
        <span className="file-actions">
          <button type="button" className="secondary" onClick={() => setFileCheck(null)}>Close</button>
        </span>
      </div>
    );
  };

  return (
    <div className="card plan-card">
      <div className="plan-tools">
        <label>
          Change in %
          <input value={copyPercent} onChange={(e) => setCopyPercent(e.target.value)} inputMode="decimal" data-testid="copy-percent"
            aria-describedby="copy-help" />
        </label>
        <button className="secondary" onClick={copyLastYear} disabled={busy || changed > 0} data-testid="copy-last-year">
          Copy {yearLabel.replace(String(planKey.year), String(planKey.year - 1))} into {yearLabel}
        </button>
        <span className="muted small" id="copy-help">
          Starts this plan from last year's targets, each scaled by the change (10 = +10 %, -5 = −5 %)
          {anyTargets ? "; targets already set here are replaced" : ""}.
        </span>
        <span className="file-tools">
          <button type="button" className="secondary" onClick={downloadCsv} disabled={busy} data-testid="csv-download">Download CSV</button>
          <label className="file-button">
            Upload CSV
            <input ref={fileInput} type="file" accept=".csv,text/csv" data-testid="csv-upload" disabled={busy || changed > 0}
              aria-describedby="csv-help" onChange={(e) => { const f = e.target.files?.[0]; if (f) void checkFile(f); }} />
          </label>
          <span className="muted small" id="csv-help">
            {changed > 0 ? "Save or discard your changes before uploading a file. " : ""}
            An uploaded file is checked first; nothing is saved until you apply it.
          </span>
        </span>
      </div>
      {fileCheck && renderFileCheck(fileCheck)}
      <div className="plan-actions">
        <span className="muted small">Small figures are actuals, measured live. Grey figures without a field are targets you may not change.</span>
        <span className="spacer" />
        {plan.rows.some((r) => r.hasChildren) && <>
          <button type="button" className="secondary" onClick={() => setExpanded(new Set(plan.rows.filter((r) => r.hasChildren).map((r) => r.key)))}
            data-testid="plan-expand-all">Expand all</button>
          <button type="button" className="secondary" onClick={() => setExpanded(new Set())}>Collapse all</button>
        </>}
        <button className="secondary" onClick={() => { setEdits({}); setFailed(new Set()); }} disabled={!changed || busy}>Discard</button>
        <button className="primary" onClick={save} disabled={!changed || busy} data-testid="plan-save">
          {busy ? "Saving…" : `Save ${changed || ""} change${changed === 1 ? "" : "s"}`}
        </button>
        {message && (
          <div className={`plan-message ${message.ok ? "ok" : "error"}`} role={message.ok ? "status" : "alert"} data-testid="plan-message">
            {message.text}
            {message.details && message.details.length > 0 && <ul>{message.details.map((d) => <li key={d}>{d}</li>)}</ul>}
          </div>
        )}
      </div>
      <div className="plan-scroll" role="region" aria-label={`${typeLabel} targets ${yearLabel}`} tabIndex={0}>
        <table className="plan" data-testid="targets-plan">
          <thead>
            <tr>
              <th scope="col">Target ({currency ?? "count"})</th>
              {plan.periods.map((p) => <th key={p.index} scope="col" title={periodLabel(p.label)}>{shortPeriodLabel(p.label)}</th>)}
              <th scope="col">Year</th>
            </tr>
          </thead>
          <tbody>
            {roots.flatMap((row) => renderTree(row, 0, row.key))}
          </tbody>
        </table>
      </div>
      <p className="muted small plan-note">
        Rows form the hierarchy company → team → user: ▸ opens a row's children. Each row with children is followed by
        their sum (a guideline: the targets need not add up); where it differs from the row's own target the period says
        "≠ target". Saving sets all changed cells at once, or none when one is refused — the refused cells are
        named and marked.
      </p>
    </div>
  );
}
