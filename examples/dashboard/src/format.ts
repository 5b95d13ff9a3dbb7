// Display helpers. Amounts arrive as exact decimal strings; they become numbers only to be shown.
// Everything is formatted in the organisation's locale and time zone (setOrganisationFormat, called
// once the viewer's organisation is known), never the browser's, so every viewer sees the same dates.
import type { PeriodStatus } from "./gql/graphql";

/**
 * The organisation's formatting settings. The API has no organisation locale yet, so the locale is
 * the dashboard's one default; the time zone is the organisation's (`organisation.timeZone`).
 */
const org = { locale: "en-GB", timeZone: "UTC" };

export function setOrganisationFormat(settings: { timeZone?: string | null; locale?: string | null }): void {
  if (settings.timeZone) org.timeZone = settings.timeZone;
  if (settings.locale) org.locale = settings.locale;
}

export function num(value: string | null | undefined): number {
  if (value == null) return 0;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/**
 * An amount in the goal's measure: money with its currency, counts as whole numbers. `compact`
 * shortens thousands and more (€1.1m, €78.6k); callers choose one style for all the figures of a
 * row (see compactFor), so "€96,988" never stands beside "€116k".
 */
export function amount(value: string | number | null | undefined, currency?: string | null, compact = false): string {
  if (value == null || value === "") return "–";
  const n = typeof value === "number" ? value : num(value);
  const short = compact && Math.abs(n) >= 1000;
  if (currency) {
    return new Intl.NumberFormat(org.locale, {
      style: "currency",
      currency,
      minimumFractionDigits: 0,
      maximumFractionDigits: short ? 1 : compact || Math.abs(n) >= 1000 ? 0 : 2,
      notation: short ? "compact" : "standard",
    }).format(n);
  }
  return new Intl.NumberFormat(org.locale, {
    maximumFractionDigits: short ? 1 : Math.abs(n) >= 100 ? 0 : 2,
    notation: short ? "compact" : "standard",
  }).format(n);
}

/** Whether a row of figures is shown compact: when any of them reaches 100,000. */
export function compactFor(values: readonly (string | number | null | undefined)[]): boolean {
  return values.some((v) => v != null && v !== "" && Math.abs(typeof v === "number" ? v : num(v)) >= 100_000);
}

/** A plain number with grouping, for inputs (no currency symbol): 1100000 → "1,100,000". */
export function grouped(value: string | null | undefined): string {
  if (value == null || value.trim() === "") return "";
  const n = Number(value);
  if (!Number.isFinite(n)) return value;
  return new Intl.NumberFormat(org.locale, { maximumFractionDigits: 4 }).format(n);
}

/**
 * What a person typed as a number, as an exact decimal string, or null when it is not one.
 * Grouping separators (commas, spaces, apostrophes, underscores) are ignored.
 */
export function parseAmount(text: string): string | null {
  const cleaned = text.trim().replace(/[\s,'_\u00a0\u202f]/g, "");
  if (cleaned === "") return "";
  return /^\d+(\.\d+)?$/.test(cleaned) ? cleaned : null;
}

export function percent(ratio: string | null | undefined): string {
  if (ratio == null) return "–";
  return `${Math.round(num(ratio) * 100)} %`;
}

/** The ratio as a percentage of a target, or "no target" where the target is 0 (no ratio to speak of). */
export function percentOf(ratio: string | null | undefined, target: string | null | undefined): string {
  return target != null && num(target) === 0 ? "no target" : percent(ratio);
}

/** A local date (YYYY-MM-DD, a calendar day) or an instant (ISO with offset) for people. */
/** Today in the organisation's time zone, as a Date scalar ("2026-03-16"). */
export function today(): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: org.timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

export function date(value: string | null | undefined): string {
  if (!value) return "–";
  const dayOnly = value.length === 10;
  // A calendar day is the same day everywhere: format it as UTC midnight in UTC.
  const d = new Date(dayOnly ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) return value;
  return new Intl.DateTimeFormat(org.locale, dayOnly
    ? { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" }
    : { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: org.timeZone }).format(d);
}

function monthName(year: number, month: number, style: "short" | "long" = "short"): string {
  return new Intl.DateTimeFormat(org.locale, { month: style, year: "numeric", timeZone: "UTC" }).format(new Date(Date.UTC(year, month - 1, 1)));
}

/**
 * A period's label for people: "2026-12" → "Dec 2026", "2026-W49" → "Week 49, 2026",
 * "2026-Q4" → "Q4 2026", "FY2026/27 Q1" → "Q1 FY2026/27", "Week of 2026-12-07" → "Week of 7 Dec 2026",
 * a custom range → its two dates. Anything else is shown as the server sent it.
 */
export function periodLabel(label: string): string {
  let m = /^(\d{4})-(\d{2})$/.exec(label);
  if (m) return monthName(Number(m[1]), Number(m[2]));
  m = /^(\d{4})-W(\d{2})$/.exec(label);
  if (m) return `Week ${Number(m[2])}, ${m[1]}`;
  m = /^(\d{4})-Q([1-4])$/.exec(label);
  if (m) return `Q${m[2]} ${m[1]}`;
  m = /^(FY\S+) Q([1-4])$/.exec(label);
  if (m) return `Q${m[2]} ${m[1]}`;
  m = /^Week of (\d{4}-\d{2}-\d{2})$/.exec(label);
  if (m) return `Week of ${date(m[1])}`;
  m = /^(\d{4}-\d{2}-\d{2}) \u2013 (\d{4}-\d{2}-\d{2})$/.exec(label);
  if (m) return `${date(m[1])} – ${date(m[2])}`;
  return label;
}

/** A short column heading for a plan period: "Dec", "W49", "Q4" (the year is the plan's). */
export function shortPeriodLabel(label: string): string {
  let m = /^(\d{4})-(\d{2})$/.exec(label);
  if (m) return new Intl.DateTimeFormat(org.locale, { month: "short", timeZone: "UTC" }).format(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)));
  m = /^(\d{4})-W(\d{2})$/.exec(label);
  if (m) return `W${Number(m[2])}`;
  m = /^(?:\d{4}-|FY\S+ )Q([1-4])$/.exec(label);
  if (m) return `Q${m[1]}`;
  return periodLabel(label);
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
