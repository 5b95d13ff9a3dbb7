import { useCallback, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { execute } from "../api/client";
import { useGoalProgress, useLive } from "../api/live";
import { GoalQuery } from "../api/operations";
import { amount, assigneeName, date, percent } from "../format";
import { href } from "../router";
import { Contributions } from "./Contributions";
import { PeriodChart, type PeriodChartHandle } from "./PeriodChart";
import { ProgressBar, StatusBadge } from "./Progress";

const INTERVAL: Record<string, string> = { WEEKLY: "weekly", MONTHLY: "monthly", QUARTERLY: "quarterly", YEARLY: "yearly", CUSTOM: "one range" };

export function GoalDetail({ id }: { id: string }) {
  const query = useQuery({ queryKey: ["goal", id], queryFn: () => execute(GoalQuery, { id }) });
  const [selected, setSelected] = useState<number | null>(null);
  const [exportError, setExportError] = useState<string | null>(null);
  const chart = useRef<PeriodChartHandle>(null);
  const { changed, lastUpdate } = useLive();
  useGoalProgress(query.data?.goal ? [id] : []);
  const select = useCallback((index: number) => setSelected(index), []);

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
            {goal.locked ? " · 🔒 targets locked" : ""}
          </p>
        </div>
        <div className="toolbar">
          <button className="secondary" onClick={exportPng} data-testid="export-png">Export PNG</button>
          {goal.viewerCan.edit && (
            <a className="button primary" href={href({ page: "edit", id: goal.id })}>Edit goal</a>
          )}
        </div>
      </div>
      {exportError && <p className="error">{exportError}</p>}
      {goal.missingFeatures.length > 0 && (
        <p className="alert">Needs licence features that are off: {goal.missingFeatures.join(", ")} — readable, not changeable.</p>
      )}

      <div className={`stats${flash ? " flash" : ""}`}>
        {current && (
          <div className="card stat" data-testid="current-period">
            <span className="stat-label">Now · {current.label}</span>
            <span className="stat-value" data-testid="current-actual">{amount(current.actual, goal.currency)}</span>
            <span className="muted">of {amount(current.target, goal.currency)} · {percent(current.ratio)}</span>
            <ProgressBar ratio={current.ratio} status={current.status} expected={current.pace?.elapsed ?? null} />
            <StatusBadge status={current.status} />
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
          <span className="muted">of {amount(goal.summary.target, goal.currency)} · {percent(goal.summary.ratio)}</span>
          <ProgressBar ratio={goal.summary.ratio} status={goal.summary.status} />
          <StatusBadge status={goal.summary.status} />
        </div>
      </div>

      <div className="detail-grid">
        <div className="card chart-card">
          <header>
            <h3>Budget versus actual</h3>
            <span className="muted small">
              Hover a period for its summary, click it for what counted{lastUpdate ? ` · updated ${date(lastUpdate)}` : ""}
            </span>
          </header>
          <PeriodChart ref={chart} periods={goal.periods} currency={goal.currency} selected={selected} onSelect={select} title={goal.title} />
          <table className="periods">
            <thead>
              <tr><th>Period</th><th>Target</th><th>Actual</th><th>%</th><th>Status</th></tr>
            </thead>
            <tbody>
              {goal.periods.map((p) => (
                <tr
                  key={p.index}
                  className={`${p.isCurrent ? "current" : ""}${selected === p.index ? " selected" : ""}`}
                  onClick={() => setSelected(p.index)}
                  data-testid="period-row"
                  data-period-index={p.index}
                >
                  <td>{p.label}{p.isCurrent ? " · now" : ""}</td>
                  <td>{amount(p.target, goal.currency)}</td>
                  <td data-testid="period-actual">{amount(p.actual, goal.currency)}</td>
                  <td>{percent(p.ratio)}</td>
                  <td><StatusBadge status={p.status} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <aside>
          {period ? (
            <Contributions goalId={goal.id} period={period} currency={goal.currency} />
          ) : (
            <div className="card contributions placeholder">
              <h3>What counted</h3>
              <p className="muted">Click a bar in the chart to list the deals or activities behind that period.</p>
            </div>
          )}
        </aside>
      </div>
    </section>
  );
}
