// Hash routes (#/goals/12), so the server only ever has to serve index.html at /.
import { useEffect, useState } from "react";

export type Route =
  | { page: "goals" }
  | { page: "goal"; id: string }
  | { page: "new" }
  | { page: "edit"; id: string }
  | { page: "plan" }
  | { page: "leaderboard" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "goals" && parts[1] === "new") return { page: "new" };
  if (parts[0] === "goals" && parts[1] && parts[2] === "edit") return { page: "edit", id: parts[1] };
  if (parts[0] === "goals" && parts[1]) return { page: "goal", id: parts[1] };
  if (parts[0] === "plan") return { page: "plan" };
  if (parts[0] === "leaderboard") return { page: "leaderboard" };
  return { page: "goals" };
}

export function href(route: Route): string {
  switch (route.page) {
    case "goals": return "#/goals";
    case "goal": return `#/goals/${encodeURIComponent(route.id)}`;
    case "new": return "#/goals/new";
    case "edit": return `#/goals/${encodeURIComponent(route.id)}/edit`;
    case "plan": return "#/plan";
    case "leaderboard": return "#/leaderboard";
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
