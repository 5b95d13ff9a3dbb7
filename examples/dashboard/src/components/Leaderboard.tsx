// Who leads this period: users or teams ranked for a goal type and measure (server-side ranks and sight).
import { useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { execute } from "../api/client";
import { LeaderboardOptionsQuery, LeaderboardQuery } from "../api/operations";
import type { Interval, LeaderboardEntrants, LeaderboardRank } from "../gql/graphql";
import { amount, percent, periodLabel } from "../format";

export function Leaderboard() {
  const options = useQuery({ queryKey: ["leaderboard-options"], queryFn: () => execute(LeaderboardOptionsQuery), staleTime: 60_000 });
  const [goalType, setGoalType] = useState("DEALS_WON");
  const [measure, setMeasure] = useState("VALUE");
  const [interval, setInterval] = useState<Interval>("MONTHLY");
  const [rankBy, setRankBy] = useState<LeaderboardRank>("ACTUAL");
  const [entrants, setEntrants] = useState<LeaderboardEntrants>("USERS");
  // Goal types that need a filter (a stage to enter) cannot be ranked without one: left out here.
  const types = options.data?.goalTypes.filter((t) => !t.filters.some((f) => f.required)) ?? [];
  const type = types.find((t) => t.key === goalType);
  const money = type?.measures.find((m) => m.key === measure)?.money ?? false;
  const currency = money ? options.data?.organisation.defaultCurrency ?? null : null;
  const board = useQuery({
    queryKey: ["leaderboard", goalType, measure, interval, rankBy, entrants],
    queryFn: () => execute(LeaderboardQuery, { goalType, measure, interval, rankBy, entrants }),
    enabled: !!type && !!type.measures.find((m) => m.key === measure),
    placeholderData: keepPreviousData,
  });
  const data = board.data?.leaderboard;
  return (
    <section data-testid="leaderboard">
      <div className="page-head">
        <div>
          <h1>Leaderboard</h1>
          <p className="muted">{data ? `${periodLabel(data.label)} · ${data.entrants} ranked${data.lowerIsBetter ? " · lowest first" : ""}` : "This period's ranking."}</p>
        </div>
        <div className="toolbar">
          <label>
            Goal type
            <select name="goalType" value={goalType} onChange={(e) => {
              const next = types.find((t) => t.key === e.target.value);
              setGoalType(e.target.value);
              if (next && !next.measures.some((m) => m.key === measure)) setMeasure(next.measures[0].key);
            }}>
              {types.map((t) => <option key={t.key} value={t.key}>{t.label}</option>)}
            </select>
          </label>
          <label>
            Measure
            <select name="measure" value={measure} onChange={(e) => setMeasure(e.target.value)}>
              {type?.measures.map((m) => <option key={m.key} value={m.key}>{m.label}</option>)}
            </select>
          </label>
          <label>
            Period
            <select name="interval" value={interval} onChange={(e) => setInterval(e.target.value as Interval)}>
              <option value="WEEKLY">This week</option>
              <option value="MONTHLY">This month</option>
              <option value="QUARTERLY">This quarter</option>
              <option value="YEARLY">This year</option>
            </select>
          </label>
          <label>
            Rank by
            <select name="rankBy" value={rankBy} onChange={(e) => setRankBy(e.target.value as LeaderboardRank)}>
              <option value="ACTUAL">Actual</option>
              <option value="ATTAINMENT">% of target</option>
            </select>
          </label>
          <label>
            Who
            <select name="entrants" value={entrants} onChange={(e) => setEntrants(e.target.value as LeaderboardEntrants)}>
              <option value="USERS">Users</option>
              <option value="TEAMS">Teams</option>
            </select>
          </label>
        </div>
      </div>
      {board.isPending && <p className="muted">Loading the ranking…</p>}
      {board.isError && <p className="error" role="alert">{String(board.error)}</p>}
      {data && (
        <table className="leaderboard" aria-busy={board.isFetching}>
          <caption className="visually-hidden">Ranking for {periodLabel(data.label)}</caption>
          <thead>
            <tr><th scope="col">Rank</th><th scope="col">{entrants === "USERS" ? "User" : "Team"}</th><th scope="col">Actual</th>
              {rankBy === "ATTAINMENT" && <><th scope="col">Target</th><th scope="col">% of target</th></>}</tr>
          </thead>
          <tbody>
            {data.entries.map((e) => (
              <tr key={`${e.userId ?? e.teamId}`} className={e.isViewer ? "me" : ""} data-testid="leaderboard-row">
                <td>{e.rank}</td>
                <th scope="row">{e.name}{e.isViewer && <span className="muted"> (you)</span>}</th>
                <td>{amount(e.actual, currency)}</td>
                {rankBy === "ATTAINMENT" && <><td>{amount(e.target, currency)}</td><td>{e.ratio == null ? "–" : percent(e.ratio)}</td></>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && data.entries.length < data.entrants && (
        <p className="muted small">You see the entries your rights allow; ranks count everyone.</p>
      )}
    </section>
  );
}
