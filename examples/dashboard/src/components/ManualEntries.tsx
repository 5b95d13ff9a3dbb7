// A manual goal's values entered by hand: a small "Enter a value" form and the entries with their
// history (corrections and deletions stay listed), each current one correctable and deletable.
import { useState, type FormEvent } from "react";
import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { execute } from "../api/client";
import { AddGoalEntryMutation, CorrectGoalEntryMutation, DeleteGoalEntryMutation, GoalEntriesQuery } from "../api/operations";
import type { GoalEntryFieldsFragment, GoalEntryPayloadFieldsFragment } from "../gql/graphql";
import { amount, date, today } from "../format";

const PAGE = 20;

type Goal = { id: string; startDate: string; endDate?: string | null; viewerCan: { enterValues: boolean } };

/** The refusal of an entry mutation in words, with the fields it names. */
function refusal(payload: GoalEntryPayloadFieldsFragment): string | null {
  if (payload.__typename === "GoalEntrySuccess") return null;
  if (payload.__typename === "ValidationError") return payload.fieldErrors.map((e) => `${e.path.join(".")}: ${e.message}`).join("; ");
  return payload.message;
}

export function ManualEntries({ goal }: { goal: Goal }) {
  const queryClient = useQueryClient();
  const query = useInfiniteQuery({
    queryKey: ["goal-entries", goal.id],
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam }) => {
      const data = await execute(GoalEntriesQuery, { id: goal.id, first: PAGE, after: pageParam });
      return data.goal?.entries ?? { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] };
    },
    getNextPageParam: (last) => (last.pageInfo.hasNextPage ? last.pageInfo.endCursor : null),
  });
  const entries = query.data?.pages.flatMap((p) => p.nodes) ?? [];
  const [on, setOn] = useState(() => {
    const day = today();
    return goal.endDate && day > goal.endDate ? goal.endDate : day < goal.startDate ? goal.startDate : day;
  });
  const [value, setValue] = useState("");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function refresh() {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: ["goal-entries", goal.id] }),
      queryClient.invalidateQueries({ queryKey: ["goal", goal.id] }),
      queryClient.invalidateQueries({ queryKey: ["contributions", goal.id] }),
      queryClient.invalidateQueries({ queryKey: ["goals"] }),
    ]);
  }

  async function run(send: () => Promise<GoalEntryPayloadFieldsFragment>): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      const problem = refusal(await send());
      setError(problem);
      await refresh();
      return problem == null;
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function add(event: FormEvent) {
    event.preventDefault();
    const ok = await run(async () => (await execute(AddGoalEntryMutation, {
      goalId: goal.id, on, value: value.trim().replace(/,/g, ""), note: note.trim() || null,
    })).addGoalEntry);
    if (ok) {
      setValue("");
      setNote("");
    }
  }

  return (
    <section className="card entries" data-testid="manual-entries">
      <header>
        <h2>Values entered by hand{query.data && <span className="count">{query.data.pages[0]?.totalCount ?? 0}</span>}</h2>
      </header>
      {goal.viewerCan.enterValues && (
        <form className="entry-form" onSubmit={add} data-testid="entry-form" aria-label="Enter a value">
          <label className="field">
            <span className="label">Day</span>
            <input type="date" value={on} min={goal.startDate} max={goal.endDate && goal.endDate < today() ? goal.endDate : today()} required
                   onChange={(e) => setOn(e.target.value)} data-testid="entry-on" />
          </label>
          <label className="field">
            <span className="label">Value</span>
            <input inputMode="decimal" value={value} required placeholder="e.g. 42"
                   onChange={(e) => setValue(e.target.value)} data-testid="entry-value" />
          </label>
          <label className="field grow">
            <span className="label">Note</span>
            <input value={note} maxLength={500} placeholder="optional" onChange={(e) => setNote(e.target.value)}
                   data-testid="entry-note" />
          </label>
          <button className="primary" type="submit" disabled={busy} data-testid="entry-add">
            {busy ? "Saving…" : "Enter a value"}
          </button>
        </form>
      )}
      {error && <p className="error" role="alert">{error}</p>}
      {query.isPending && <p className="muted">Loading…</p>}
      {query.isError && <p className="error">{query.error.message}</p>}
      {query.data && entries.length === 0 && <p className="empty">No values entered yet.</p>}
      <ul className="facts">
        {entries.map((entry) => (
          <EntryRow key={entry.id} entry={entry} editable={goal.viewerCan.enterValues && entry.current} busy={busy}
                    onCorrect={(v, n) => run(async () => (await execute(CorrectGoalEntryMutation, { entryId: entry.id, value: v, note: n })).correctGoalEntry)}
                    onDelete={() => run(async () => (await execute(DeleteGoalEntryMutation, { entryId: entry.id })).deleteGoalEntry)} />
        ))}
      </ul>
      {query.hasNextPage && (
        <button className="secondary" onClick={() => query.fetchNextPage()} disabled={query.isFetchingNextPage}>
          {query.isFetchingNextPage ? "Loading…" : "Show more"}
        </button>
      )}
    </section>
  );
}

function EntryRow({ entry, editable, busy, onCorrect, onDelete }: {
  entry: GoalEntryFieldsFragment;
  editable: boolean;
  busy: boolean;
  onCorrect: (value: string, note: string | null) => Promise<boolean>;
  onDelete: () => Promise<boolean>;
}) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(entry.value);
  const [note, setNote] = useState(entry.note ?? "");
  const who = entry.enteredByUser?.name ?? entry.enteredBy;
  const state = entry.deletedAt ? `deleted ${date(entry.deletedAt)}${entry.deletedBy ? ` by ${entry.deletedBy}` : ""}`
    : entry.supersededAt ? `corrected ${date(entry.supersededAt)}` : null;

  async function save(event: FormEvent) {
    event.preventDefault();
    if (await onCorrect(value.trim().replace(/,/g, ""), note.trim() || null)) setEditing(false);
  }

  return (
    <li className={entry.current ? "" : "history"} data-testid="entry" data-entry-id={entry.id} data-current={entry.current}>
      {editing ? (
        <form className="entry-form" onSubmit={save} aria-label={`Correct the value of ${date(entry.on)}`}>
          <input inputMode="decimal" value={value} required onChange={(e) => setValue(e.target.value)} aria-label="Value" data-testid="correct-value" />
          <input value={note} maxLength={500} onChange={(e) => setNote(e.target.value)} aria-label="Note" placeholder="note" />
          <button className="primary" type="submit" disabled={busy} data-testid="correct-save">Save</button>
          <button className="secondary" type="button" onClick={() => setEditing(false)}>Cancel</button>
        </form>
      ) : (
        <>
          <div className="fact-main">
            <span className="fact-title">{entry.current ? amount(entry.value) : <s>{amount(entry.value)}</s>}</span>
            <span className="muted">
              {entry.note ? `${entry.note} · ` : ""}entered by {who}, {date(entry.enteredAt)}
              {entry.replacesId ? " · a correction" : ""}
            </span>
            {state && <span className="muted small">{state}</span>}
          </div>
          <div className="fact-side">
            <span className="muted small">{date(entry.on)}</span>
            {editable && (
              <span className="entry-actions">
                <button className="secondary small" onClick={() => setEditing(true)} disabled={busy} data-testid="entry-correct">Correct</button>
                <button className="danger small" onClick={() => onDelete()} disabled={busy} data-testid="entry-delete">Delete</button>
              </span>
            )}
          </div>
        </>
      )}
    </li>
  );
}
