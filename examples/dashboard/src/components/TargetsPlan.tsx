// The yearly targets grid: company, teams and users × the year's periods, targets editable,
// actuals measured live, each team beside the sum of its members' targets.
import { Fragment, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { execute } from "../api/client";
import { PlanOptionsQuery, SetPlanTargetsMutation, TargetsPlanQuery } from "../api/operations";
import type { Interval, PlanCellInput, PlanKeyInput, TargetsPlanQuery as PlanResult } from "../gql/graphql";
import { amount, assigneeName, num } from "../format";

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
  });

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
            <select value={year} onChange={(e) => setYear(Number(e.target.value))}>
              {[-1, 0, 1].map((d) => {
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
      {plan.data && <PlanGrid key={JSON.stringify(key)} planKey={key} plan={plan.data.targetsPlan} currency={currency} />}
    </section>
  );
}

function PlanGrid({ planKey, plan, currency }: { planKey: PlanKeyInput; plan: PlanResult["targetsPlan"]; currency: string | null }) {
  const queryClient = useQueryClient();
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<{ ok: boolean; text: string; details?: string[] } | null>(null);
  const [busy, setBusy] = useState(false);

  const company = plan.rows.filter((r) => r.assignee.kind === "COMPANY");
  const teams = plan.rows.filter((r) => r.assignee.kind === "TEAM");
  const users = plan.rows.filter((r) => r.assignee.kind === "USER");

  const value = (row: Row, i: number) => edits[`${rowKey(row)}:${i}`] ?? (row.targets[i] == null ? "" : String(num(row.targets[i])));
  const targetsOf = (row: Row) => plan.periods.map((_, i) => value(row, i));
  const teamsTotal = plan.periods.map((_, i) => sum(teams.map((t) => value(t, i))));
  const changed = Object.keys(edits).length;

  async function save() {
    const cells: PlanCellInput[] = Object.entries(edits)
      .filter(([, v]) => v.trim() !== "")
      .map(([k, v]) => {
        const [kind, id, index] = k.split(":");
        return {
          assignee: kind === "COMPANY" ? { kind: "COMPANY" } : { kind: kind as "USER" | "TEAM", id },
          periodStart: plan.periods[Number(index)].startDate,
          target: v.trim(),
        };
      });
    if (!cells.length) return;
    setBusy(true);
    setMessage(null);
    try {
      const { setPlanTargets: result } = await execute(SetPlanTargetsMutation, { key: planKey, cells });
      if (result.__typename === "PlanSaved") {
        setMessage({ ok: true, text: `Saved: ${result.goalsChanged} plan goal${result.goalsChanged === 1 ? "" : "s"} changed.` });
        setEdits({});
        await queryClient.invalidateQueries({ queryKey: ["plan"] });
        await queryClient.invalidateQueries({ queryKey: ["goals"] });
      } else {
        const details = result.__typename === "ValidationError"
          ? result.fieldErrors.map((f) => `${f.path.join(".")}: ${f.message}`)
          : undefined;
        setMessage({ ok: false, text: result.message, details });
      }
    } catch (e) {
      setMessage({ ok: false, text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  }

  const renderRow = (row: Row, className = "") => {
    const disabled = !!row.goal && (row.goal.locked || !row.goal.viewerCan.edit);
    const rowTotal = sum(targetsOf(row));
    const actualTotal = sum(row.actuals);
    return (
      <tr key={rowKey(row)} className={className} data-testid="plan-row" data-assignee={rowKey(row)}>
        <th scope="row">
          {assigneeName(row.assignee)}
          {row.goal?.locked && <span title="Targets locked"> 🔒</span>}
        </th>
        {plan.periods.map((p, i) => {
          const target = value(row, i);
          const ratio = target ? num(row.actuals[i]) / num(target) : null;
          const tone = ratio == null ? "" : ratio >= 1 ? "good" : ratio >= 0.7 ? "near" : "low";
          const edited = `${rowKey(row)}:${i}` in edits;
          return (
            <td key={p.index} className={`${tone}${edited ? " edited" : ""}`}>
              <input
                inputMode="decimal"
                value={target}
                disabled={disabled}
                aria-label={`${assigneeName(row.assignee)} ${p.label} target`}
                onChange={(e) => setEdits((old) => ({ ...old, [`${rowKey(row)}:${i}`]: e.target.value }))}
              />
              <span className="actual" title="Actual">{amount(row.actuals[i], currency, true)}</span>
            </td>
          );
        })}
        <td className="total">
          <strong>{rowTotal == null ? "–" : amount(String(rowTotal), currency, true)}</strong>
          <span className="actual">{amount(actualTotal == null ? "0" : String(actualTotal), currency, true)}</span>
        </td>
      </tr>
    );
  };

  const renderSums = (label: string, values: (string | number | null | undefined)[], compareTo: Row, key: string) => {
    const total = sum(values.map((v) => (v == null ? null : String(v))));
    return (
      <tr key={key} className="sum-row">
        <th scope="row">{label}</th>
        {values.map((v, i) => {
          const mine = value(compareTo, i);
          const off = v != null && mine !== "" && Math.abs(num(String(v)) - num(mine)) > 0.0001;
          return (
            <td key={i} className={off ? "off" : ""} title={off ? `Differs from ${assigneeName(compareTo.assignee)}'s target ${mine}` : ""}>
              {v == null ? "–" : amount(String(v), currency, true)}
            </td>
          );
        })}
        <td className="total">{total == null ? "–" : amount(String(total), currency, true)}</td>
      </tr>
    );
  };

  return (
    <div className="card plan-card">
      <div className="plan-actions">
        <span className="muted small">Small figures are actuals, measured live.</span>
        <span className="spacer" />
        {message && (
          <span className={message.ok ? "ok" : "error"} role="status">
            {message.text}
            {message.details?.map((d) => <span key={d} className="small"> {d}</span>)}
          </span>
        )}
        <button className="secondary" onClick={() => setEdits({})} disabled={!changed || busy}>Discard</button>
        <button className="primary" onClick={save} disabled={!changed || busy}>
          {busy ? "Saving…" : `Save ${changed || ""} change${changed === 1 ? "" : "s"}`}
        </button>
      </div>
      <div className="plan-scroll">
        <table className="plan" data-testid="targets-plan">
          <thead>
            <tr>
              <th scope="col">Target ({currency ?? "count"})</th>
              {plan.periods.map((p) => <th key={p.index} scope="col">{p.label}</th>)}
              <th scope="col">Year</th>
            </tr>
          </thead>
          <tbody>
            {company.map((row) => (
              <Fragment key={rowKey(row)}>
                {renderRow(row, "company")}
                {teams.length > 0 && renderSums("Sum of teams", teamsTotal, row, "teams-sum")}
              </Fragment>
            ))}
            {teams.length > 0 && <tr className="section"><th colSpan={plan.periods.length + 2}>Teams</th></tr>}
            {teams.map((row) => (
              <Fragment key={rowKey(row)}>
                {renderRow(row, "team")}
                {row.memberTargets && renderSums("Members' sum", row.memberTargets, row, `${rowKey(row)}-members`)}
              </Fragment>
            ))}
            {users.length > 0 && <tr className="section"><th colSpan={plan.periods.length + 2}>Users</th></tr>}
            {users.map((row) => renderRow(row, "user"))}
          </tbody>
        </table>
      </div>
      <p className="muted small plan-note">
        Each team row is followed by the sum of its members' targets (a guideline); a highlighted sum differs from the
        team's own target. Saving sets all changed cells at once, or none when one is refused.
      </p>
    </div>
  );
}
