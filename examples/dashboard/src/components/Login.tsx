import { useState, type FormEvent } from "react";
import { executeWith, GraphQLRequestError } from "../api/client";
import { MeQuery } from "../api/operations";

export function Login({ onLogin, notice }: { onLogin: (token: string) => void; notice?: string | null }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const value = token.trim().replace(/^Bearer\s+/i, "");
    if (!value) return;
    setBusy(true);
    setError(null);
    try {
      await executeWith(value, MeQuery);
      onLogin(value);
    } catch (e) {
      setError(e instanceof GraphQLRequestError || e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="card login-card" onSubmit={submit}>
        <h1>
          <span className="logo" aria-hidden="true" /> goalgraph
        </h1>
        <p className="muted">Goals and sales targets, live from your CRM.</p>
        {notice && <p className="alert">{notice}</p>}
        <label htmlFor="token">Access token</label>
        <textarea
          id="token"
          name="token"
          rows={4}
          spellCheck={false}
          placeholder="eyJhbGciOi…"
          value={token}
          onChange={(e) => setToken(e.target.value)}
        />
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy || !token.trim()}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        <div className="hint">
          <strong>Where tokens come from.</strong> <code>goalgraph serve --demo</code> prints tokens for the demo
          admin (user-09), team leader (user-05) and regular user (user-06). Mint another with{" "}
          <code>goalgraph token user-05</code>, run in the directory of the server's database (for the demo set{" "}
          <code>GOALGRAPH_DATABASE_URL=sqlite+aiosqlite:///goalgraph-demo.db</code>). The token stays in this
          browser tab only (session storage).
        </div>
      </form>
    </main>
  );
}
