import { useEffect, useRef, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { execute, getToken, GraphQLRequestError, onUnauthenticated, setToken } from "./api/client";
import { LiveProvider, useLive } from "./api/live";
import { MeQuery } from "./api/operations";
import type { MeQuery as MeResult } from "./gql/graphql";
import { Login } from "./components/Login";
import { GoalList } from "./components/GoalList";
import { GoalDetail } from "./components/GoalDetail";
import { GoalForm } from "./components/GoalForm";
import { TargetsPlan } from "./components/TargetsPlan";
import { Leaderboard } from "./components/Leaderboard";
import { Bell } from "./components/Bell";
import { href, useRoute } from "./router";
import { setOrganisationFormat } from "./format";

export function App() {
  const [token, setTokenState] = useState<string | null>(() => getToken());
  const [notice, setNotice] = useState<string | null>(null);
  const queryClient = useQueryClient();

  function login(value: string) {
    setToken(value);
    setNotice(null);
    queryClient.clear();
    setTokenState(value);
  }

  function logout(message: string | null = null) {
    setToken(null);
    queryClient.clear();
    setNotice(message);
    setTokenState(null);
  }

  // Any request the server refuses as UNAUTHENTICATED (expired or unknown token) ends the session.
  const logoutRef = useRef(logout);
  logoutRef.current = logout;
  useEffect(() => onUnauthenticated(() => logoutRef.current("Your token was refused (expired or unknown): sign in again.")), []);

  if (!token) return <Login onLogin={login} notice={notice} />;
  return (
    <LiveProvider token={token}>
      <Shell onLogout={() => logout()} />
    </LiveProvider>
  );
}

function Shell({ onLogout }: { onLogout: () => void }) {
  const route = useRoute();
  const me = useQuery({ queryKey: ["me"], queryFn: () => execute(MeQuery) });

  if (me.isPending) return <div className="page-loading">Loading…</div>;
  if (me.isError) {
    const e = me.error;
    return (
      <div className="page-loading error">
        {e instanceof GraphQLRequestError ? e.message : String(e)} <button onClick={onLogout}>Sign in again</button>
      </div>
    );
  }
  const viewer = me.data;
  setOrganisationFormat({ timeZone: viewer.organisation.timeZone });
  return (
    <div className="shell">
      <Header viewer={viewer} page={route.page} onLogout={onLogout} />
      <main className="content">
        {route.page === "goals" && <GoalList />}
        {route.page === "goal" && <GoalDetail id={route.id} />}
        {route.page === "new" && <GoalForm key="new" />}
        {route.page === "edit" && <GoalForm key={route.id} goalId={route.id} />}
        {route.page === "plan" && <TargetsPlan />}
        {route.page === "leaderboard" && <Leaderboard />}
      </main>
    </div>
  );
}

const ROLE_LABEL: Record<string, string> = {
  SYSTEM: "Service",
  ADMIN: "Admin",
  TEAM_LEADER: "Team leader",
  USER: "User",
};

function Header({ viewer, page, onLogout }: { viewer: MeResult; page: string; onLogout: () => void }) {
  const { state, token } = useLive();
  const name = viewer.me.user?.name ?? viewer.me.subject;
  return (
    <header className="topbar">
      <a className="brand" href={href({ page: "goals" })}>
        <span className="logo" aria-hidden="true" /> goalgraph
        <span className="org">{viewer.organisation.name}</span>
      </a>
      <nav aria-label="Main">
        <a className={page === "goals" || page === "goal" ? "active" : ""} aria-current={page === "goals" || page === "goal" ? "page" : undefined} href={href({ page: "goals" })}>Goals</a>
        <a className={page === "plan" ? "active" : ""} aria-current={page === "plan" ? "page" : undefined} href={href({ page: "plan" })}>Targets plan</a>
        <a className={page === "leaderboard" ? "active" : ""} aria-current={page === "leaderboard" ? "page" : undefined} href={href({ page: "leaderboard" })}>Leaderboard</a>
        <a className={page === "new" ? "active" : ""} aria-current={page === "new" ? "page" : undefined} href={href({ page: "new" })}>New goal</a>
      </nav>
      <div className="viewer">
        {state !== "idle" && (
          <span className={`live live-${state}`} data-live={state} title="Live updates over the goalProgress subscription">
            {state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Offline"}
          </span>
        )}
        {viewer.me.user && <Bell token={token} />}
        <span className="who" data-testid="viewer-name">
          {name} <small>{ROLE_LABEL[viewer.me.access.role] ?? viewer.me.access.role}</small>
        </span>
        <button className="link" onClick={onLogout}>Sign out</button>
      </div>
    </header>
  );
}
