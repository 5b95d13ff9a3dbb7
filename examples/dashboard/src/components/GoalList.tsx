import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { execute } from "../api/client";
import { useGoalProgress, useLive } from "../api/live";
import { GoalsQuery } from "../api/operations";
import type { AssigneeKind, GoalCardFieldsFragment, GoalOrder, Timeframe } from "../gql/graphql";
import { amount, assigneeName, num, percent } from "../format";
import { href } from "../router";
import { ProgressBar, StatusBadge } from "./Progress";

type TimeframeChoice = Timeframe | "ALL";
type KindChoice = AssigneeKind | "ALL";

export function GoalList() {
  const [timeframe, setTimeframe] = useState<TimeframeChoice>("ACTIVE");
  const [kind, setKind] = useState<KindChoice>("ALL");
  const [orderBy, setOrderBy] = useState<GoalOrder>("CREATED");
  const variables = {
    first: 100,
    orderBy,
    filter: {
      ...(timeframe === "ALL" ? {} : { timeframe }),
      ...(kind === "ALL" ? {} : { assigneeKind: kind }),
    },
  };
  const goals = useQuery({ queryKey: ["goals", variables], queryFn: () => execute(GoalsQuery, variables) });
  const nodes = goals.data?.goals.nodes ?? [];
  useGoalProgress(nodes.map((g) => g.id));

  return (
    <section>
      <div className="page-head">
        <div>
          <h1>Goals</h1>
          <p className="muted">
            {goals.data ? `${goals.data.goals.totalCount} goal${goals.data.goals.totalCount === 1 ? "" : "s"} you may see` : " "}
          </p>
        </div>
        <div className="toolbar">
          <label>
            When
            <select value={timeframe} onChange={(e) => setTimeframe(e.target.value as TimeframeChoice)}>
              <option value="ACTIVE">Running now</option>
              <option value="ALL">All</option>
              <option value="PAST">Finished</option>
              <option value="FUTURE">Not started</option>
            </select>
          </label>
          <label>
            For
            <select value={kind} onChange={(e) => setKind(e.target.value as KindChoice)}>
              <option value="ALL">Everyone</option>
              <option value="COMPANY">Company</option>
              <option value="TEAM">Teams</option>
              <option value="USER">Users</option>
            </select>
          </label>
          <label>
            Order
            <select value={orderBy} onChange={(e) => setOrderBy(e.target.value as GoalOrder)}>
              <option value="CREATED">Created</option>
              <option value="PROGRESS_DESC">Best progress first</option>
              <option value="PROGRESS_ASC">Least progress first</option>
            </select>
          </label>
          <a className="button primary" href={href({ page: "new" })}>New goal</a>
        </div>
      </div>
      {goals.isPending && <p className="muted">Loading goals…</p>}
      {goals.isError && <p className="error">{goals.error.message}</p>}
      {goals.data && nodes.length === 0 && <p className="empty">No goals here yet.</p>}
      <div className="goal-grid" data-testid="goal-list">
        {nodes.map((goal) => (
          <GoalCard key={goal.id} goal={goal} />
        ))}
      </div>
    </section>
  );
}

function GoalCard({ goal }: { goal: GoalCardFieldsFragment }) {
  const { changed } = useLive();
  const period = goal.currentPeriod;
  const shown = period ?? goal.summary;
  const flash = changed[goal.id] && Date.now() - changed[goal.id] < 4000;
  return (
    <a
      className={`card goal-card${flash ? " flash" : ""}`}
      href={href({ page: "goal", id: goal.id })}
      data-testid="goal-card"
      data-goal-id={goal.id}
    >
      <div className="goal-card-head">
        <h2>{goal.title}</h2>
        <StatusBadge status={shown.status} />
      </div>
      <p className="meta">
        {assigneeName(goal.assignee)} · {goal.goalType.label} · {goal.measure.toLowerCase().replace(/_/g, " ")}
        {goal.locked && <span className="lock" title="Targets locked"> · 🔒</span>}
      </p>
      <div className="figures">
        <span className="actual" data-testid="goal-actual">{amount(shown.actual, goal.currency)}</span>
        <span className="muted"> of {amount(shown.target, goal.currency)}</span>
        <span className="ratio">{percent(shown.ratio)}</span>
      </div>
      <ProgressBar ratio={shown.ratio} status={shown.status} expected={period?.pace?.elapsed ?? null} />
      <p className="foot muted">
        {period ? `${period.label} · ${period.facts} fact${period.facts === 1 ? "" : "s"}` : "Whole span"}
        {goal.currentPeriod && (
          <span>
            {" "}· all periods {percent(goal.summary.ratio)} ({amount(goal.summary.actual, goal.currency, true)} /{" "}
            {amount(goal.summary.target, goal.currency, true)})
          </span>
        )}
      </p>
      {period?.pace && num(period.pace.projectedAtEnd) > 0 && (
        <p className="foot muted">Projected at end: {amount(period.pace.projectedAtEnd, goal.currency)}</p>
      )}
    </a>
  );
}
