// Live progress over graphql-transport-ws (the token goes in connection_init). A page that shows
// goals follows them with one goalProgress subscription on a socket of its own, closed when the
// page goes away; every push is written into the query cache, so bars, progress bars and numbers
// move without a reload.
import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { createClient } from "graphql-ws";
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { GoalProgressSubscription } from "./operations";
import type { GoalProgressSubscription as GoalProgressResult, GoalQuery, GoalsQuery } from "../gql/graphql";

/** idle: this page follows nothing. */
export type LiveState = "idle" | "connecting" | "live" | "offline";

type LiveGoal = GoalProgressResult["goalProgress"]["goals"][number];

interface LiveContextValue {
  token: string;
  state: LiveState;
  /** The follower that reports last owns the indicator (pages hand over while they switch). */
  report: (owner: object, state: LiveState) => void;
  release: (owner: object) => void;
  /** Goal id → time of the last push that changed it (to flash the card). */
  changed: Record<string, number>;
  markChanged: (ids: string[]) => void;
  lastUpdate: string | null;
  setLastUpdate: (at: string) => void;
}

const LiveContext = createContext<LiveContextValue | null>(null);

/**
 * graphql-transport-ws messages are text frames. goalgraph's server currently sends its JSON as
 * binary frames (its encoder returns bytes), which graphql-ws in a browser receives as a Blob and
 * rejects (close 4004, "Message is missing the 'type' property"). This WebSocket hands graphql-ws
 * every frame as text, whichever way it arrived.
 */
export class TextFrameWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    this.binaryType = "arraybuffer";
    const decoder = new TextDecoder();
    let listener: ((event: MessageEvent) => void) | null = null;
    Object.defineProperty(this, "onmessage", {
      get: () => listener,
      set: (next: ((event: MessageEvent) => void) | null) => {
        listener = next;
      },
    });
    this.addEventListener("message", (event) => {
      if (!listener) return;
      const data = typeof event.data === "string" ? event.data : decoder.decode(event.data as ArrayBuffer);
      listener.call(this, data === event.data ? event : new MessageEvent("message", { data }));
    });
  }
}

export function socketUrl(): string {
  const url = new URL("/graphql", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export function LiveProvider({ token, children }: { token: string; children: ReactNode }) {
  const [state, setState] = useState<LiveState>("idle");
  const [changed, setChanged] = useState<Record<string, number>>({});
  const [lastUpdate, setLastUpdate] = useState<string | null>(null);
  const owner = useRef<object | null>(null);

  const value = useMemo<LiveContextValue>(
    () => ({
      token,
      state,
      report: (who, next) => {
        owner.current = who;
        setState(next);
      },
      release: (who) => {
        if (owner.current === who) {
          owner.current = null;
          setState("idle");
        }
      },
      changed,
      markChanged: (ids) => {
        const now = Date.now();
        setChanged((old) => ({ ...old, ...Object.fromEntries(ids.map((id) => [id, now])) }));
      },
      lastUpdate,
      setLastUpdate,
    }),
    [token, state, changed, lastUpdate],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveContextValue {
  const value = useContext(LiveContext);
  if (!value) throw new Error("useLive needs a LiveProvider");
  return value;
}

/** Write a pushed goal into every cached query that shows it. */
function applyGoal(queryClient: QueryClient, goal: LiveGoal): void {
  const { periods, ...card } = goal;
  queryClient.setQueriesData<GoalsQuery>({ queryKey: ["goals"] }, (old) => {
    if (!old) return old;
    if (!old.goals.nodes.some((g) => g.id === goal.id)) return old;
    return { ...old, goals: { ...old.goals, nodes: old.goals.nodes.map((g) => (g.id === goal.id ? { ...g, ...card } : g)) } };
  });
  queryClient.setQueryData<GoalQuery>(["goal", goal.id], (old) => {
    if (!old?.goal) return old;
    // Keep the periods the page asked for; replace those the push carries (by index).
    const pushed = new Map(periods.map((p) => [p.index, p]));
    const merged = old.goal.periods.map((p) => pushed.get(p.index) ?? p);
    return { goal: { ...old.goal, ...card, periods: merged } };
  });
}

/**
 * Follow these goals while the component is mounted. Pushes after the first ("INITIAL") one
 * also refresh the drill-down lists of those goals and flash them.
 */
export function useGoalProgress(goalIds: readonly string[]): void {
  const live = useLive();
  const queryClient = useQueryClient();
  const key = [...goalIds].sort().join(",");
  const latest = useRef(live);
  latest.current = live;

  useEffect(() => {
    if (!key) return;
    const ids = key.split(",");
    const me = {};
    let active = true;
    const report = (state: LiveState) => () => {
      if (active) latest.current.report(me, state);
    };
    const client = createClient({
      url: socketUrl(),
      webSocketImpl: TextFrameWebSocket,
      connectionParams: { Authorization: `Bearer ${latest.current.token}` },
      retryAttempts: Infinity,
      shouldRetry: () => true,
      on: { connecting: report("connecting"), connected: report("live"), closed: report("offline") },
    });
    const unsubscribe = client.subscribe<GoalProgressResult>(
      { query: GoalProgressSubscription.toString(), variables: { goalIds: ids } },
      {
        next: ({ data }) => {
          if (!data || !active) return;
          const update = data.goalProgress;
          for (const goal of update.goals) applyGoal(queryClient, goal);
          latest.current.setLastUpdate(update.at);
          if (update.reason !== "INITIAL") {
            const changedIds = update.goals.map((g) => g.id);
            latest.current.markChanged(changedIds);
            for (const id of changedIds) void queryClient.invalidateQueries({ queryKey: ["contributions", id] });
          }
        },
        error: (error) => {
          console.warn("goalProgress subscription failed", error);
          report("offline")();
        },
        complete: () => {},
      },
    );
    return () => {
      active = false;
      latest.current.release(me);
      unsubscribe();
      void client.dispose();
    };
  }, [key, queryClient]);
}
