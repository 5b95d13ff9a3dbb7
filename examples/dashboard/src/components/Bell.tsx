// The bell: the viewer's unread count in the header and a panel of their notices (unread first), live
// through the `notifications` subscription on a socket of its own. Marking read goes through
// markNotificationsRead; the server then pushes the new state to every tab of the viewer.
import { useEffect, useRef, useState } from "react";
import { createClient } from "graphql-ws";
import { execute, GraphQLRequestError } from "../api/client";
import { socketUrl, TextFrameWebSocket } from "../api/live";
import { MarkNotificationsReadMutation, NotificationsSubscription } from "../api/operations";
import type { NotificationFieldsFragment, NotificationsSubscription as NotificationsResult } from "../gql/graphql";
import { date } from "../format";
import { href } from "../router";

/** Notices shown in the panel (the subscription's `first`). */
const SHOWN = 10;

interface BellState {
  unread: number;
  notices: NotificationFieldsFragment[];
  connected: boolean;
}

function useNotifications(token: string): [BellState, (update: Partial<BellState>) => void] {
  const [state, setState] = useState<BellState>({ unread: 0, notices: [], connected: false });
  useEffect(() => {
    let active = true;
    const client = createClient({
      url: socketUrl(),
      webSocketImpl: TextFrameWebSocket,
      connectionParams: { Authorization: `Bearer ${token}` },
      retryAttempts: Infinity,
      shouldRetry: () => true,
      on: {
        connected: () => active && setState((s) => ({ ...s, connected: true })),
        closed: () => active && setState((s) => ({ ...s, connected: false })),
      },
    });
    const unsubscribe = client.subscribe<NotificationsResult>(
      { query: NotificationsSubscription.toString(), variables: { first: SHOWN } },
      {
        next: ({ data }) => {
          if (!data || !active) return;
          setState((s) => ({ ...s, unread: data.notifications.unreadCount, notices: data.notifications.notifications }));
        },
        error: (error) => console.warn("notifications subscription failed", error),
        complete: () => {},
      },
    );
    return () => {
      active = false;
      unsubscribe();
      void client.dispose();
    };
  }, [token]);
  return [state, (update) => setState((s) => ({ ...s, ...update }))];
}

function BellIcon() {
  return (
    <svg className="icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      <path d="M8 1.5a4.5 4.5 0 0 0-4.5 4.5v2.6L2 11v1h12v-1l-1.5-2.4V6A4.5 4.5 0 0 0 8 1.5Z" fill="currentColor" />
      <path d="M6.2 13.2a1.9 1.9 0 0 0 3.6 0" fill="none" stroke="currentColor" strokeWidth="1.4" />
    </svg>
  );
}

export function Bell({ token }: { token: string }) {
  const [state, patch] = useNotifications(token);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (event: MouseEvent | KeyboardEvent) => {
      if (event instanceof KeyboardEvent ? event.key === "Escape" : !root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", close);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", close);
    };
  }, [open]);

  async function markRead(ids: string[] | null) {
    setError(null);
    try {
      const result = await execute(MarkNotificationsReadMutation, { ids, all: ids === null });
      const payload = result.markNotificationsRead;
      if (payload.__typename === "NotificationsMarkedRead") {
        // The push follows; show the answer at once.
        patch({
          unread: payload.unreadCount,
          notices: state.notices.map((n) => (ids === null || ids.includes(n.id) ? { ...n, read: true } : n))
            .sort((a, b) => Number(a.read) - Number(b.read) || Number(b.id) - Number(a.id)),
        });
      } else setError(payload.message);
    } catch (e) {
      setError(e instanceof GraphQLRequestError ? e.message : String(e));
    }
  }

  const label = state.unread === 1 ? "1 unread notification" : `${state.unread} unread notifications`;
  return (
    <div className="bell" ref={root}>
      <button
        type="button"
        className="bell-button"
        aria-label={`Notifications: ${label}`}
        aria-expanded={open}
        aria-controls="bell-panel"
        data-testid="bell"
        data-unread={state.unread}
        onClick={() => setOpen((o) => !o)}
      >
        <BellIcon />
        {state.unread > 0 && (
          <span className="bell-count" data-testid="bell-count" aria-hidden="true">
            {state.unread > 99 ? "99+" : state.unread}
          </span>
        )}
      </button>
      {open && (
        <section id="bell-panel" className="bell-panel" aria-label="Notifications" data-testid="bell-panel">
          <header>
            <h2>Notifications</h2>
            {state.unread > 0 && (
              <button type="button" className="link" onClick={() => void markRead(null)}>Mark all read</button>
            )}
          </header>
          {error && <p className="error" role="alert">{error}</p>}
          {state.notices.length === 0 ? (
            <p className="muted">No notifications yet.</p>
          ) : (
            <ul>
              {state.notices.map((n) => (
                <li key={n.id} className={n.read ? "notice read" : "notice unread"} data-testid="notice" data-read={n.read}>
                  <div className="notice-title">
                    {n.goalId ? <a href={href({ page: "goal", id: n.goalId })} onClick={() => setOpen(false)}>{n.title}</a> : n.title}
                  </div>
                  <div className="notice-meta">
                    <time dateTime={n.createdAt}>{date(n.createdAt)}</time>
                    {!n.read && (
                      <button type="button" className="link" onClick={() => void markRead([n.id])} aria-label={`Mark read: ${n.title}`}>
                        Mark read
                      </button>
                    )}
                  </div>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </div>
  );
}
