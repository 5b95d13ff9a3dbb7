import { useInfiniteQuery } from "@tanstack/react-query";
import { execute } from "../api/client";
import { ContributionsQuery } from "../api/operations";
import type { PeriodFieldsFragment } from "../gql/graphql";
import { amount, date, periodLabel } from "../format";

const PAGE = 25;

/** The deals or activities counted in one period, newest pages on demand. */
export function Contributions({ goalId, period, currency }: { goalId: string; period: PeriodFieldsFragment; currency: string | null | undefined }) {
  const query = useInfiniteQuery({
    queryKey: ["contributions", goalId, period.index, period.startDate],
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam }) => {
      const data = await execute(ContributionsQuery, {
        id: goalId,
        from: period.startDate,
        to: period.endDate,
        first: PAGE,
        after: pageParam,
      });
      const found = data.goal?.periods.find((p) => p.index === period.index) ?? data.goal?.periods[0];
      return found?.contributions ?? { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] };
    },
    getNextPageParam: (last) => (last.pageInfo.hasNextPage ? last.pageInfo.endCursor : null),
  });
  const rows = query.data?.pages.flatMap((p) => p.nodes) ?? [];
  const total = query.data?.pages[0]?.totalCount;

  return (
    <section className="card contributions" data-testid="contributions" data-period={period.label}>
      <header>
        <h2>
          What counted in {periodLabel(period.label)}
          {total != null && <span className="count">{total}</span>}
        </h2>
        <p className="muted">
          {date(period.startDate)} – {date(period.endDate)} · actual {amount(period.actual, currency)} of {amount(period.target, currency)}
        </p>
        {period.unconverted.length > 0 && (
          <p className="small warn-text">
            Left out of the actual, no exchange rate known: {period.unconverted.map((u) => `${u.facts} in ${u.currency}`).join(", ")}
          </p>
        )}
      </header>
      {query.isPending && <p className="muted">Loading…</p>}
      {query.isError && <p className="error">{query.error.message}</p>}
      {query.data && rows.length === 0 && <p className="empty">Nothing counted in this period yet.</p>}
      <ul className="facts">
        {rows.map((row, i) => {
          const deal = row.deal;
          const activity = row.activity;
          const entry = row.entry;
          const converted = row.originalAmount && row.originalAmount.currency !== currency;
          return (
            <li key={deal?.id ?? activity?.id ?? entry?.id ?? i} data-testid="contribution" data-deal-id={deal?.id} data-activity-id={activity?.id}>
              <div className="fact-main">
                {deal ? (
                  <>
                    <span className="fact-title">{deal.title}</span>
                    <span className="muted">
                      {deal.owner.name} · {deal.stage.name} · <span className={`deal-status deal-${deal.status.toLowerCase()}`}>{deal.status.toLowerCase()}</span>
                    </span>
                  </>
                ) : activity ? (
                  <>
                    <span className="fact-title">{activity.subject}</span>
                    <span className="muted">{activity.owner.name} · {activity.type}{activity.done ? " · done" : ""}</span>
                  </>
                ) : entry ? (
                  <>
                    <span className="fact-title">{entry.note ?? "Value entered by hand"}</span>
                    <span className="muted">entered by {entry.enteredByUser?.name ?? entry.enteredBy}, {date(entry.enteredAt)}</span>
                  </>
                ) : (
                  <span className="fact-title">Fact</span>
                )}
                {row.element && <span className="chip">{row.element}</span>}
              </div>
              <div className="fact-side">
                <span className="fact-amount">{row.amount == null ? <span title="No exchange rate was known for this currency and date: left out of the actual">not converted</span> : amount(row.amount, currency)}</span>
                {converted && row.originalAmount && (
                  <span className="muted small">{amount(row.originalAmount.amount, row.originalAmount.currency)}</span>
                )}
                <span className="muted small">{date(row.occurredAt)}</span>
              </div>
            </li>
          );
        })}
      </ul>
      {query.hasNextPage && (
        <button className="secondary" onClick={() => query.fetchNextPage()} disabled={query.isFetchingNextPage}>
          {query.isFetchingNextPage ? "Loading…" : "Show more"}
        </button>
      )}
    </section>
  );
}
