// Lock / unlock a goal's targets and delete the goal, offered only where `viewerCan` allows it.
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { execute } from "../api/client";
import { DeleteGoalMutation, LockGoalMutation, UnlockGoalMutation } from "../api/operations";
import type { GoalCardFieldsFragment, GoalPayloadFieldsFragment } from "../gql/graphql";
import { navigate } from "../router";
import { LockIcon } from "./Icons";

type Goal = Pick<GoalCardFieldsFragment, "id" | "title" | "version" | "locked" | "viewerCan">;

function refusal(payload: { __typename: string; message?: string; currentVersion?: number }): string {
  if (payload.__typename === "ConflictError") return `${payload.message} — someone changed the goal meanwhile; it has been reloaded, try again.`;
  return payload.message ?? payload.__typename;
}

export function GoalActions({ goal }: { goal: Goal }) {
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState<"lock" | "delete" | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!goal.viewerCan.lock && !goal.viewerCan.delete) return null;

  async function refresh() {
    await queryClient.invalidateQueries({ queryKey: ["goal", goal.id] });
    await queryClient.invalidateQueries({ queryKey: ["goals"] });
    await queryClient.invalidateQueries({ queryKey: ["plan"] });
  }

  async function toggleLock() {
    setBusy("lock");
    setError(null);
    try {
      const variables = { id: goal.id, version: goal.version };
      const payload: GoalPayloadFieldsFragment = goal.locked
        ? (await execute(UnlockGoalMutation, variables)).unlockGoal
        : (await execute(LockGoalMutation, variables)).lockGoal;
      if (payload.__typename !== "GoalSuccess") setError(refusal(payload));
      await refresh();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  }

  async function remove() {
    setBusy("delete");
    setError(null);
    try {
      const { deleteGoal: payload } = await execute(DeleteGoalMutation, { id: goal.id, version: goal.version });
      if (payload.__typename === "DeleteGoalSuccess") {
        queryClient.removeQueries({ queryKey: ["goal", goal.id] });
        await queryClient.invalidateQueries({ queryKey: ["goals"] });
        await queryClient.invalidateQueries({ queryKey: ["plan"] });
        sessionStorage.setItem("goalgraph.notice", `Deleted “${goal.title}”.`);
        navigate({ page: "goals" });
        return;
      }
      setError(refusal(payload));
      setConfirming(false);
      await refresh();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  }

  return (
    <div className="goal-actions" data-testid="goal-actions">
      {goal.viewerCan.lock && (
        <button className="secondary" onClick={toggleLock} disabled={busy != null} data-testid={goal.locked ? "unlock-goal" : "lock-goal"}>
          <LockIcon /> {busy === "lock" ? "Saving…" : goal.locked ? "Unlock targets" : "Lock targets"}
        </button>
      )}
      {goal.viewerCan.delete && !confirming && (
        <button className="danger" onClick={() => setConfirming(true)} disabled={busy != null} data-testid="delete-goal">
          Delete goal
        </button>
      )}
      {confirming && (
        <span className="confirm" role="group" aria-label="Confirm deletion">
          <span>Delete “{goal.title}” for everyone?</span>
          <button className="danger" onClick={remove} disabled={busy != null} data-testid="confirm-delete" autoFocus>
            {busy === "delete" ? "Deleting…" : "Yes, delete"}
          </button>
          <button className="secondary" onClick={() => setConfirming(false)} disabled={busy != null}>Keep it</button>
        </span>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </div>
  );
}
