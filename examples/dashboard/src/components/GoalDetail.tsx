import { Fragment, useCallback, useEffect, useRef, useState, type KeyboardEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { execute } from "../api/client";
import { useGoalProgress, useLive } from "../api/live";
import { GoalQuery } from "../api/operations";
import { amount, assigneeName, date, percentOf, periodLabel } from "../format";
import { href } from "../router";
import { GoalActions } from "./GoalActions";
import { LockIcon } from "./Icons";
import { useNarrow, usePhone } from "./useNarrow";
import { Contributions } from "./Contributions";
import { ManualEntries } from "./ManualEntries";
import { PeriodChart, type PeriodChartHandle } from "./PeriodChart";
import { ProgressBar, StatusBadge, PaceBadge, Updating } from "./Progress";

const INTERVAL: Record<string, string> = { WEEKLY: "weekly", MONTHLY: "monthly", QUARTERLY: "quarterly", YEARLY: "yearly", CUSTOM: "one range" };

export function GoalDetail({ id }: { id: string }) {
  const query = useQuery({ queryKey: ["goal", id], queryFn: () => execute(GoalQuery, { id }) });
  const [selected, setSelected] = useState<number | null>(null);
  const [exportError, setExportError] = useState<string | null>(null);
  const chart = useRef<PeriodChartHandle>(null);
  const { changed, lastUpdate } = useLive();
  useGoalProgress(query.data?.goal ? [id] : []);
  const select = useCallback((index: number) => setSelected(index), []);
  // On a narrow screen the drill-down opens inside the table, under the period it belongs to.
  const narrow = useNarrow();
  const phone = usePhone(); // compact amounts for the whole table, so five columns fit
  const drill = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (selected != null) drill.current?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }, [selected, narrow]);

  if (query.isPending) return <p className="muted">Loading goal…</p>;
  if (query.isError) return <p className="error">{query.error.message}</p>;
  const goal = query.data.goal;
  if (!goal) return <p className="empty">This goal does not exist or you may not see it. <a href={href({ page: "goals" })}>Back to goals</a></p>;

  const current = goal.currentPeriod;
  const period = selected == null ? null : goal.periods.find((p) => p.index === selected) ?? null;
  const flash = changed[goal.id] && Date.now() - changed[goal.id] < 4000;

  async function exportPng() {
    setExportError(null);
    try {
      const url = await chart.current!.toPng();
      const link = document.createElement("a");
      link.href = url;
      link.download = `goal-${goal!.id}-${goal!.title.replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-|-$/g, "").toLowerCase()}.png`;
      document.body.appendChild(link);
      link.click();
      link.remove();
    } catch (e) {
      setExportError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <section className="goal-detail" data-testid="goal-detail" data-goal-id={goal.id}>
      <a className="back" href={href({ page: "goals" })}>← Goals</a>
      <div className="page-head">
        <div>
          <h1>{goal.title}</h1>
          <p className="meta">
            {assigneeName(goal.assignee)} · {goal.goalType.label} · {goal.measure.toLowerCase().replace(/_/g, " ")}
            {goal.currency ? ` in ${goal.currency}` : ""} · {INTERVAL[goal.interval]} from {date(goal.startDate)}
            {goal.endDate ? ` to ${date(goal.endDate)}` : " (open-ended)"}
            {goal.fiscal ? " · fiscal" : ""}
            {goal.splitBy ? ` · split by ${goal.splitBy.replace(/_/g, " ")}` : ""}
            {goal.locked && <span data-testid="locked-note"> · <LockIcon /> targets locked</span>}
          </p>
        </div>
        <div className="toolbar">
          <button className="secondary" onClick={exportPng} data-testid="export-png">Export PNG</button>
          {goal.viewerCan.edit && (
            <a className="button primary" href={href({ page: "edit", id: goal.id })}>Edit goal</a>
          )}
        </div>
      </div>
      <GoalActions goal={goal} />
      {exportError && <p className="error">{exportError}</p>}
      {goal.missingFeatures.length > 0 && (
        <p className="alert">Needs licence features that are off: {goal.missingFeatures.join(", ")} — readable, not changeable.</p>
      )}

      <div className={`stats${flash ? " flash" : ""}`}>
        {current && (
          <div className="card stat" data-testid="current-period">
            <span className="stat-label">Now · {periodLabel(current.label)}</span>
            <span className="stat-value" data-testid="current-actual">{amount(current.actual, goal.currency)}</span>
            <Updating pending={current.pending} />
            <span className="muted">of {amount(current.target, goal.currency)} · {percentOf(current.ratio, current.target)}</span>
            <ProgressBar ratio={current.ratio} status={current.status} expected={current.pace?.elapsed ?? null} />
            <StatusBadge status={current.status} />
            <PaceBadge pace={current.pace} />
          </div>
        )}
        {current?.pace && (
          <div className="card stat">
            <span className="stat-label">Pace</span>
            <span className="stat-value">{amount(current.pace.projectedAtEnd, goal.currency)}</span>
            <span className="muted">
              projected at the end · {amount(current.pace.expectedByNow, goal.currency)} expected by now ({Math.round(current.pace.elapsed * 100)} % elapsed)
            </span>
          </div>
        )}
        <div className="card stat">
          <span className="stat-label">All periods</span>
          <span className="stat-value">{amount(goal.summary.actual, goal.currency)}</span>
          <span className="muted">of {amount(goal.summary.target, goal.currency)} · {percentOf(goal.summary.ratio, goal.summary.target)}</span>
          <ProgressBar ratio={goal.summary.ratio} status={goal.summary.status} />
          <StatusBadge status={goal.summary.status} />
        </div>
      </div>

      <div className="detail-grid">
        <div className="card chart-card">
          <header>
            <h2>Budget versus actual</h2>
            <span className="muted small" id="chart-help">
              Hover a period for its summary, click it (or focus the chart and use the arrow keys and Enter) for what
              counted{lastUpdate ? ` · updated ${date(lastUpdate)}` : ""}
            </span>
          </header>
          <PeriodChart ref={chart} periods={goal.periods} currency={goal.currency} selected={selected} onSelect={select} title={goal.title} />
          <div className="table-scroll">
            <table className="periods">
              <caption className="visually-hidden">Target and actual per period; choose a period to list what counted</caption>
              <thead>
                <tr><th scope="col">Period</th><th scope="col">Target</th><th scope="col">Actual</th><th scope="col">%</th><th scope="col">Status</th></tr>
              </thead>
              <tbody>
                {goal.periods.map((p) => (
                  <Fragment key={p.index}>
                    <tr
                      className={`${p.isCurrent ? "current" : ""}${selected === p.index ? " selected" : ""}`}
                      onClick={() => setSelected(p.index)}
                      onKeyDown={(e: KeyboardEvent) => {
                        if (e.key === "Enter" || e.key === " ") {
                          e.preventDefault();
                          setSelected(p.index);
                        }
                      }}
                      tabIndex={0}
                      aria-label={`${periodLabel(p.label)}: actual ${amount(p.actual, goal.currency)} of ${amount(p.target, goal.currency)}; press Enter to list what counted`}
                      data-testid="period-row"
                      data-period-index={p.index}
                    >
                      <td className="period-name">{periodLabel(p.label)}{p.isCurrent ? " · now" : ""}</td>
                      <td>{amount(p.target, goal.currency, phone)}</td>
                      <td data-testid="period-actual">{amount(p.actual, goal.currency, phone)}<Updating pending={p.pending} /></td>
                      <td>{percentOf(p.ratio, p.target)}</td>
                      <td><StatusBadge status={p.status} /></td>
                    </tr>
                    {narrow && period && period.index === p.index && (
                      <tr className="drill-row">
                        <td colSpan={5}>
                          <div ref={drill}>
                            <Contributions goalId={goal.id} period={period} currency={goal.currency} />
                          </div>
                        </td>
                      </tr>
                    )}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </div>
        </div>
        {!narrow && (
          <aside aria-label="What counted">
            {period ? (
              <div ref={drill}>
                <Contributions goalId={goal.id} period={period} currency={goal.currency} />
              </div>
            ) : (
              <div className="card contributions placeholder">
                <h2>What counted</h2>
                <p className="muted">Click a bar in the chart or a period in the table to list the deals or activities behind it.</p>
              </div>
            )}
          </aside>
        )}
      </div>
      {goal.goalType.key === "MANUAL" && <ManualEntries goal={goal} />}
    </section>
  );
}
