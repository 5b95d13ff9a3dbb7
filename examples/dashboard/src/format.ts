// Display helpers. Amounts arrive as exact decimal strings; they become numbers only to be shown.
import type { PeriodStatus } from "./gql/graphql";

export function num(value: string | null | undefined): number {
  if (value == null) return 0;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** An amount in the goal's measure: money with its currency, counts as whole numbers. */
export function amount(value: string | null | undefined, currency?: string | null, compact = false): string {
  if (value == null) return "–";
  const n = num(value);
  const short = compact && Math.abs(n) >= 100_000;
  if (currency) {
    return new Intl.NumberFormat("en-GB", {
      style: "currency",
      currency,
      minimumFractionDigits: 0,
      maximumFractionDigits: short ? 1 : compact || Math.abs(n) >= 1000 ? 0 : 2,
      notation: short ? "compact" : "standard",
    }).format(n);
  }
  return new Intl.NumberFormat("en-GB", {
    maximumFractionDigits: short ? 1 : 2,
    notation: short ? "compact" : "standard",
  }).format(n);
}

export function percent(ratio: string | null | undefined): string {
  if (ratio == null) return "–";
  return `${Math.round(num(ratio) * 100)} %`;
}

export function date(value: string | null | undefined): string {
  if (!value) return "–";
  const d = new Date(value.length === 10 ? `${value}T00:00:00` : value);
  if (Number.isNaN(d.getTime())) return value;
  return new Intl.DateTimeFormat("en-GB", value.length === 10
    ? { day: "numeric", month: "short", year: "numeric" }
    : { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" }).format(d);
}

export const STATUS_LABEL: Record<PeriodStatus, string> = {
  PENDING: "Not started",
  IN_PROGRESS: "In progress",
  ACHIEVED: "Achieved",
  EXCEEDED: "Exceeded",
  MISSED: "Missed",
};

/** One colour per status, shared by badges, progress bars and chart bars. */
export const STATUS_COLOUR: Record<PeriodStatus, string> = {
  PENDING: "#94a3b8",
  IN_PROGRESS: "#2563eb",
  ACHIEVED: "#16a34a",
  EXCEEDED: "#0d9488",
  MISSED: "#dc2626",
};

export function assigneeName(a: { kind: string; user?: { name: string } | null; team?: { name: string } | null }): string {
  if (a.kind === "COMPANY") return "Company";
  if (a.kind === "TEAM") return a.team ? `Team ${a.team.name}` : "Team";
  return a.user?.name ?? "User";
}

export function measureLabel(measure: string, currency?: string | null): string {
  const words = measure.toLowerCase().replace(/_/g, " ");
  return currency ? `${words} (${currency})` : words;
}
