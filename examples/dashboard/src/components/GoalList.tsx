import { useEffect, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { execute } from "../api/client";
import { useGoalProgress, useLive } from "../api/live";
import { GoalsQuery } from "../api/operations";
import type { AssigneeKind, GoalCardFieldsFragment, GoalOrder, Timeframe } from "../gql/graphql";
import { amount, assigneeName, num, percent, periodLabel } from "../format";
import { LockIcon } from "./Icons";
import { href } from "../router";
import { ProgressBar, StatusBadge, PaceBadge, Updating } from "./Progress";

type TimeframeChoice = Timeframe | "ALL";
type KindChoice = AssigneeKind | "ALL";

export function GoalList() {
  const [timeframe, setTimeframe] = useState<TimeframeChoice>("ACTIVE");
  const [kind, setKind] = useState<KindChoice>("ALL");
  const [orderBy, setOrderBy] = useState<GoalOrder>("CREATED");
  // A message handed over by the page we came from (e.g. after deleting a goal).
  const [notice] = useState(() => sessionStorage.getItem("goalgraph.notice"));
  useEffect(() => sessionStorage.removeItem("goalgraph.notice"), []);
  const variables = {
    first: 100,
    orderBy,
    filter: {
      ...(timeframe === "ALL" ? {} : { timeframe }),
      ...(kind === "ALL" ? {} : { assigneeKind: kind }),
    },
  };
  // A filter change keeps the current cards on screen (dimmed) until the new list arrives.
  const goals = useQuery({ queryKey: ["goals", variables], queryFn: () => execute(GoalsQuery, variables), placeholderData: keepPreviousData });
  const updating = goals.isPlaceholderData;
  const filtered = timeframe !== "ACTIVE" || kind !== "ALL";
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
            <select name="kind" value={kind} onChange={(e) => setKind(e.target.value as KindChoice)}>
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
      {notice && <p className="notice" role="status" data-testid="notice">{notice}</p>}
      {goals.isPending && <p className="muted">Loading goals…</p>}
      {goals.isError && <p className="error">{goals.error.message}</p>}
      {goals.data && !updating && nodes.length === 0 && (
        <div className="card empty-state" data-testid="empty-state">
          <h2>{filtered ? "No goals match these filters" : "No running goals you may see"}</h2>
          <p>
            {filtered
              ? "Nothing is running, finished or planned for this choice. Widen the filters, or set a goal for it."
              : "Goals appear here once someone sets one for you, your team or the company — or set one yourself."}
          </p>
          <div className="empty-actions">
            {filtered && (
              <button className="secondary" onClick={() => { setTimeframe("ALL"); setKind("ALL"); }}>Show all goals</button>
            )}
            <a className="button primary" href={href({ page: "new" })}>Create a goal</a>
            <a className="button secondary" href={href({ page: "plan" })}>Open the targets plan</a>
          </div>
        </div>
      )}
      <p className="visually-hidden" role="status">{updating ? "Updating goals…" : ""}</p>
      <div className={`goal-grid${updating ? " updating" : ""}`} data-testid="goal-list" aria-busy={updating}>
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
        <span className="badges">
          <StatusBadge status={shown.status} />
          <PaceBadge pace={period?.pace} />
        </span>
      </div>
      <p className="meta">
        {assigneeName(goal.assignee)} · {goal.goalType.label} · {goal.measure.toLowerCase().replace(/_/g, " ")}
        {goal.direction === "LOWER_IS_BETTER" && <span data-testid="direction"> · lower is better</span>}
        {goal.locked && <span className="lock" data-testid="locked"> · <LockIcon /> locked</span>}
      </p>
      <div className="figures">
        <span className="actual" data-testid="goal-actual">{amount(shown.actual, goal.currency)}</span>
        <Updating pending={period?.pending} />
        {num(shown.target) > 0 ? (
          <>
            <span className="muted"> of {amount(shown.target, goal.currency)}</span>
            <span className="ratio">{percent(shown.ratio)}</span>
          </>
        ) : (
          <span className="muted"> · no target set</span>
        )}
      </div>
      <ProgressBar ratio={shown.ratio} status={shown.status} expected={period?.pace?.elapsed ?? null} />
      <p className="foot muted">
        {period ? `${periodLabel(period.label)} · ${period.facts} fact${period.facts === 1 ? "" : "s"}` : "Whole span"}
        {goal.currentPeriod && (
          <span>
            {" "}· all periods {amount(goal.summary.actual, goal.currency)} of {amount(goal.summary.target, goal.currency)}
            {num(goal.summary.target) > 0 ? ` (${percent(goal.summary.ratio)})` : ""}
          </span>
        )}
      </p>
      {period?.pace && num(period.pace.projectedAtEnd) > 0 && (
        <p className="foot muted">Projected at end: {amount(period.pace.projectedAtEnd, goal.currency)}</p>
      )}
    </a>
  );
}
