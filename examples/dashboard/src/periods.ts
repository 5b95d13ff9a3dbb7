// The periods a goal being created would have, to offer one target field per period before it exists.
// This mirrors src/goalgraph/periods.py (aligned starts, the first and last period cut to the goal's
// dates) for display only: the server recomputes the periods and names any start it does not accept.
// (An API query for a draft goal's periods would remove this copy; see docs/dashboard.md.)
import type { Interval, Weekday } from "./gql/graphql";

export interface PreviewPeriod {
  startDate: string;
  endDate: string;
  /** A label in the server's format (2026-03, 2026-Q1, 2026-W09 …), for periodLabel(). */
  label: string;
}

const WEEKDAYS: Weekday[] = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
const STEP: Record<string, number> = { MONTHLY: 1, QUARTERLY: 3, YEARLY: 12 };
const MAX = 120;

const iso = (d: Date) => d.toISOString().slice(0, 10);
const day = (text: string) => new Date(`${text}T00:00:00Z`);
const addDays = (d: Date, n: number) => new Date(d.getTime() + n * 86_400_000);
const monthStart = (n: number) => new Date(Date.UTC(Math.floor(n / 12), n % 12, 1));
const monthNumber = (d: Date) => d.getUTCFullYear() * 12 + d.getUTCMonth();

function isoWeek(d: Date): { year: number; week: number } {
  const thursday = addDays(d, 3 - ((d.getUTCDay() + 6) % 7));
  const jan1 = new Date(Date.UTC(thursday.getUTCFullYear(), 0, 1));
  return { year: thursday.getUTCFullYear(), week: Math.floor((thursday.getTime() - jan1.getTime()) / 604_800_000) + 1 };
}

function fiscalLabel(start: Date): string {
  const y = start.getUTCFullYear();
  return start.getUTCMonth() === 0 ? `FY${y}` : `FY${y}/${String((y + 1) % 100).padStart(2, "0")}`;
}

/** The goal's periods, or [] when they cannot be known yet (no end, custom range, bad dates, too many). */
export function previewPeriods(
  interval: Interval, start: string, end: string, fiscal: boolean, weekStart: Weekday, fiscalYearStartMonth: number,
): PreviewPeriod[] {
  if (!start || !end || interval === "CUSTOM") return [];
  const first = day(start);
  const last = day(end);
  if (Number.isNaN(first.getTime()) || Number.isNaN(last.getTime()) || last < first) return [];
  const base = fiscal ? fiscalYearStartMonth - 1 : 0;
  const aligned = (d: Date): Date => {
    if (interval === "WEEKLY") return addDays(d, -((((d.getUTCDay() + 6) % 7) - WEEKDAYS.indexOf(weekStart) + 7) % 7));
    if (interval === "MONTHLY") return monthStart(monthNumber(d));
    const step = STEP[interval];
    return monthStart(monthNumber(d) - ((d.getUTCMonth() - base + 12) % step));
  };
  const next = (d: Date): Date => (interval === "WEEKLY" ? addDays(d, 7) : monthStart(monthNumber(d) + STEP[interval]));
  const label = (a: Date): string => {
    if (interval === "WEEKLY") {
      if (weekStart !== "MONDAY") return `Week of ${iso(a)}`;
      const w = isoWeek(a);
      return `${w.year}-W${String(w.week).padStart(2, "0")}`;
    }
    if (interval === "MONTHLY") return iso(a).slice(0, 7);
    if (interval === "QUARTERLY") {
      if (!fiscal) return `${a.getUTCFullYear()}-Q${Math.floor(a.getUTCMonth() / 3) + 1}`;
      const fy = monthStart(monthNumber(a) - ((a.getUTCMonth() - base + 12) % 12));
      return `${fiscalLabel(fy)} Q${(monthNumber(a) - monthNumber(fy)) / 3 + 1}`;
    }
    return fiscal ? fiscalLabel(a) : String(a.getUTCFullYear());
  };
  const out: PreviewPeriod[] = [];
  for (let a = aligned(first); a <= last && out.length <= MAX; a = next(a)) {
    const s = a < first ? first : a;
    const e = addDays(next(a), -1);
    out.push({ startDate: iso(s), endDate: iso(e > last ? last : e), label: label(a) });
  }
  return out.length > MAX ? [] : out;
}
