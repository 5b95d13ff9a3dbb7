import type { PaceStatus, PeriodStatus } from "../gql/graphql";
import { num, percent, STATUS_COLOUR, STATUS_LABEL } from "../format";

export function StatusBadge({ status }: { status: PeriodStatus }) {
  return (
    <span className={`badge status-${status.toLowerCase()}`} data-status={status}>
      {STATUS_LABEL[status]}
    </span>
  );
}

const PACE_LABEL: Record<PaceStatus, string> = { ON_TRACK: "On track", BEHIND: "Behind", AT_RISK: "At risk" };

/** Where the period under way is heading (server-side rule: docs/goals.md, "Pace"). */
export function PaceBadge({ pace }: { pace: { status: PaceStatus; projectedAtEnd: string | null } | null | undefined }) {
  if (!pace) return null;
  return (
    <span className={`badge pace-${pace.status.toLowerCase().replace("_", "-")}`} data-pace={pace.status}
          title={pace.projectedAtEnd != null ? `Projected at the end: ${pace.projectedAtEnd}` : undefined}>
      {PACE_LABEL[pace.status]}
    </span>
  );
}

/** A bar filled to the ratio (capped at 100 %; the overflow shows as a marker), coloured by status. */
export function ProgressBar({ ratio, status, expected }: { ratio: string | null | undefined; status: PeriodStatus; expected?: number | null }) {
  const value = num(ratio);
  const width = Math.max(0, Math.min(1, value)) * 100;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(value * 100)}
      aria-label={`${percent(ratio)} of target`}
    >
      <div className="progress-fill" style={{ width: `${width}%`, background: STATUS_COLOUR[status] }} />
      {expected != null && expected > 0 && expected < 1 && (
        <div className="progress-pace" style={{ left: `${expected * 100}%` }} title="Where the actual should be by now" />
      )}
    </div>
  );
}

/** Shown while the server is still storing newer figures for a period (`pending`): the value is its last one. */
export function Updating({ pending }: { pending: boolean | null | undefined }) {
  if (!pending) return null;
  return (
    <span className="updating" role="status" data-testid="updating" title="Newer facts are being counted; the figure updates by itself">
      updating…
    </span>
  );
}
