// Create or edit a goal. Everything the form offers comes from the server: goal types with their
// measures and filters, dimensions and their elements, pipelines and stages, users and teams,
// and which licence features are on.
import { useMemo, useState, type FormEvent, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { execute, GraphQLRequestError } from "../api/client";
import { CreateGoalMutation, FormDataQuery, GoalQuery, MeQuery as MeDocument, UpdateGoalMutation } from "../api/operations";
import type {
  AssigneeKind,
  GoalDirection,
  GoalFormDataQuery,
  GoalInput,
  GoalPayloadFieldsFragment,
  GoalQuery as GoalResult,
  GoalUpdateInput,
  Interval,
  MeQuery,
} from "../gql/graphql";
import { amount, parseAmount, periodLabel } from "../format";
import { previewPeriods, type PreviewPeriod } from "../periods";
import { href, navigate } from "../router";
import { AmountInput } from "./AmountInput";

type FormData = GoalFormDataQuery;
type GoalTypeInfo = FormData["goalTypes"][number];
type FilterInfo = GoalTypeInfo["filters"][number];
type Goal = NonNullable<GoalResult["goal"]>;

interface State {
  title: string;
  goalType: string;
  measure: string;
  /** Preselected from the measure's defaultDirection until the user picks one (`directionChosen`). */
  direction: GoalDirection;
  directionChosen: boolean;
  currency: string;
  assigneeKind: AssigneeKind;
  assigneeId: string;
  filters: Record<string, string[]>;
  interval: Interval;
  startDate: string;
  endDate: string;
  fiscal: boolean;
  targetForAll: string;
  stretchTarget: string;
  splitBy: string;
  elementTargets: Record<string, string>;
  /** Period start date → target text (blank: the target per period applies). */
  periodTargets: Record<string, string>;
  /** What contributors are told (docs/goals.md, "Notifications"); milestones as typed, e.g. "50, 100". */
  notify: { assigned: boolean; milestones: string; pace: boolean; periodClosed: boolean; teamLeaders: boolean };
}

const DEFAULT_NOTIFY = { assigned: true, milestones: "50, 100", pace: true, periodClosed: true, teamLeaders: false };

/** "50, 100 %" → [50, 100]; anything that is not a whole number is sent as is for the server to name. */
function milestones(text: string): number[] {
  return text.split(/[,;\s%]+/).filter((t) => t !== "").map((t) => (/^\d+$/.test(t) ? Number(t) : Number.NaN));
}

const DIRECTIONS: { value: GoalDirection; label: string }[] = [
  { value: "HIGHER_IS_BETTER", label: "Higher is better (reach at least the target)" },
  { value: "LOWER_IS_BETTER", label: "Lower is better (stay at or below the target)" },
];

/** The direction a measure preselects (docs/goals.md, "Direction"). */
function defaultDirection(type: GoalTypeInfo | undefined, measure: string): GoalDirection {
  return type?.measures.find((m) => m.key === measure)?.defaultDirection ?? "HIGHER_IS_BETTER";
}

const INTERVALS: { value: Interval; label: string }[] = [
  { value: "WEEKLY", label: "Weekly" },
  { value: "MONTHLY", label: "Monthly" },
  { value: "QUARTERLY", label: "Quarterly" },
  { value: "YEARLY", label: "Yearly" },
  { value: "CUSTOM", label: "One custom range" },
];

function factKind(category: string): string | null {
  if (category === "DEAL" || category === "FORECAST") return "DEAL";
  if (category === "ACTIVITY") return "ACTIVITY";
  if (category === "SERVICE") return "TICKET";
  return null;
}

function trimDecimal(value: string | null | undefined): string {
  if (value == null) return "";
  return value.includes(".") ? value.replace(/0+$/, "").replace(/\.$/, "") : value;
}

function emptyState(data: FormData, me: MeQuery | undefined): State {
  const year = new Date().getFullYear();
  const type = data.goalTypes.find((t) => t.key === "DEALS_WON") ?? data.goalTypes[0];
  const userId = me?.me.user?.id;
  return {
    title: "",
    goalType: type?.key ?? "",
    measure: type?.measures[0]?.key ?? "",
    direction: defaultDirection(type, type?.measures[0]?.key ?? ""),
    directionChosen: false,
    currency: data.organisation.defaultCurrency,
    assigneeKind: userId ? "USER" : "COMPANY",
    assigneeId: userId ?? "",
    filters: {},
    interval: "MONTHLY",
    startDate: `${year}-01-01`,
    endDate: `${year}-12-31`,
    fiscal: false,
    targetForAll: "",
    stretchTarget: "",
    splitBy: "",
    elementTargets: {},
    periodTargets: {},
    notify: DEFAULT_NOTIFY,
  };
}

function goalState(goal: Goal, data: FormData): State {
  return {
    title: goal.title,
    goalType: goal.goalType.key,
    measure: goal.measure,
    direction: goal.direction,
    directionChosen: true,
    currency: goal.currency ?? data.organisation.defaultCurrency,
    assigneeKind: goal.assignee.kind,
    assigneeId: goal.assignee.user?.id ?? goal.assignee.team?.id ?? "",
    filters: Object.fromEntries(goal.filters.map((f) => [f.key, f.values])),
    interval: goal.interval,
    startDate: goal.startDate,
    endDate: goal.endDate ?? "",
    fiscal: goal.fiscal,
    targetForAll: trimDecimal(goal.target),
    stretchTarget: trimDecimal(goal.stretchTarget),
    splitBy: goal.splitBy ?? "",
    elementTargets: Object.fromEntries(goal.elementTargets.map((e) => [e.element, trimDecimal(e.target)])),
    // Only the periods with a target of their own; the others follow "Target per period".
    periodTargets: Object.fromEntries(
      goal.periods.filter((p) => Number(p.target) !== Number(goal.target)).map((p) => [p.startDate, trimDecimal(p.target)]),
    ),
    notify: {
      assigned: goal.notifications.assigned, milestones: goal.notifications.milestones.join(", "), pace: goal.notifications.pace,
      periodClosed: goal.notifications.periodClosed, teamLeaders: goal.notifications.teamLeaders,
    },
  };
}

/** The state with another measure: its default direction follows unless the user chose one. */
function withMeasure(s: State, type: GoalTypeInfo | undefined, measure: string): State {
  return { ...s, measure, direction: s.directionChosen ? s.direction : defaultDirection(type, measure) };
}

/** A typed amount as the exact decimal the API takes ("1,100,000" → "1100000"); bad text is sent as is. */
function decimal(text: string): string | null {
  const parsed = parseAmount(text);
  return parsed === "" ? null : parsed ?? text.trim();
}

/** The GoalInput the state describes (create), also the base of an update's diff. */
function toInput(s: State, type: GoalTypeInfo | undefined): GoalInput {
  const money = type?.measures.find((m) => m.key === s.measure)?.money ?? false;
  const keys = new Set(type?.filters.map((f) => f.key));
  const filters = Object.entries(s.filters)
    .filter(([key, values]) => keys.has(key) && values.length > 0)
    .map(([key, values]) => ({ key, values }))
    .sort((a, b) => a.key.localeCompare(b.key));
  const input: GoalInput = {
    title: s.title.trim(),
    goalType: s.goalType,
    measure: s.measure,
    direction: s.direction,
    assignee: s.assigneeKind === "COMPANY" ? { kind: "COMPANY" } : { kind: s.assigneeKind, id: s.assigneeId || null },
    interval: s.interval,
    startDate: s.startDate,
    endDate: s.endDate || null,
    fiscal: s.fiscal,
    currency: money ? s.currency || null : null,
    filters,
    stretchTarget: decimal(s.stretchTarget),
    notifications: {
      assigned: s.notify.assigned, milestones: milestones(s.notify.milestones), pace: s.notify.pace,
      periodClosed: s.notify.periodClosed, teamLeaders: s.notify.teamLeaders,
    },
  };
  if (s.splitBy) {
    input.splitBy = s.splitBy;
    input.elementTargets = Object.entries(s.elementTargets)
      .filter(([, target]) => target.trim() !== "")
      .map(([element, target]) => ({ element, target: decimal(target)! }));
  } else {
    input.targetForAll = decimal(s.targetForAll);
  }
  return input;
}

/** Period targets that differ from the target per period (all of them when there is none). */
function overrides(s: State, periods: { startDate: string }[]): { periodStart: string; target: string }[] {
  const all = decimal(s.targetForAll);
  return periods
    .filter((p) => {
      const own = decimal(s.periodTargets[p.startDate] ?? "");
      return own != null && (all == null || Number(own) !== Number(all));
    })
    .map((p) => ({ periodStart: p.startDate, target: decimal(s.periodTargets[p.startDate])! }));
}

function calendarUnchanged(s: State, goal: Goal): boolean {
  return s.interval === goal.interval && s.startDate === goal.startDate && (s.endDate || null) === (goal.endDate ?? null) && s.fiscal === goal.fiscal;
}

/** A problem of one field; `keyed` ones belong to one element or period field (path[1]). */
type FieldProblem = { path: string[]; message: string; keyed?: boolean };
type Outcome = { kind: "ok" } | { kind: "error"; message: string; fields: FieldProblem[] };

const FIELD_LABEL: Record<string, string> = {
  title: "Title", goalType: "Goal type", measure: "Measure", currency: "Currency", assignee: "For", filters: "Filters",
  direction: "Direction", interval: "Periods", startDate: "Start", endDate: "End", targetForAll: "Target per period", stretchTarget: "Stretch target",
  periodTargets: "Targets per period", splitBy: "Split by", elementTargets: "Target per element",
};

const NOT_A_NUMBER = "Enter a number, e.g. 120000 or 120,000.50";

/** Number fields checked before sending, so a typo is named beside its field, not by the server. */
function clientProblems(s: State, periods: PreviewPeriod[], showPeriods: boolean): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const bad = (text: string | undefined) => text != null && parseAmount(text) == null;
  if (!s.splitBy && bad(s.targetForAll)) problems.push({ path: ["targetForAll"], message: NOT_A_NUMBER });
  if (bad(s.stretchTarget)) problems.push({ path: ["stretchTarget"], message: NOT_A_NUMBER });
  if (s.splitBy) {
    for (const [element, text] of Object.entries(s.elementTargets)) {
      if (bad(text)) problems.push({ path: ["elementTargets", element], message: NOT_A_NUMBER, keyed: true });
    }
  }
  if (showPeriods) {
    for (const p of periods) {
      if (bad(s.periodTargets[p.startDate])) problems.push({ path: ["periodTargets", p.startDate], message: NOT_A_NUMBER, keyed: true });
    }
    const blank = periods.filter((p) => (parseAmount(s.periodTargets[p.startDate] ?? "") ?? "x") === "");
    if (!s.splitBy && decimal(s.targetForAll) == null && blank.length) {
      problems.push({
        path: ["targetForAll"],
        message: `Give a target per period, or fill in every period below (${blank.length} empty)`,
      });
    }
  } else if (!s.splitBy && s.targetForAll.trim() === "") {
    problems.push({ path: ["targetForAll"], message: "Give the target every period should reach" });
  }
  return problems;
}

/** A GraphQL variable error ("… has invalid value at .targetForAll: …") as a problem of its field. */
function variableProblems(error: GraphQLRequestError): FieldProblem[] | null {
  const found = [...error.message.matchAll(/invalid value at \.(\w+)(?:\[(\d+)\])?[^:]*: ([^;]+)/g)];
  if (!found.length) return null;
  return found.map((m) => ({ path: [m[1]], message: /Decimal/.test(m[3]) ? NOT_A_NUMBER : m[3].replace(/\.$/, "") }));
}

function outcomeOf(payload: GoalPayloadFieldsFragment): Outcome {
  switch (payload.__typename) {
    case "GoalSuccess":
      return { kind: "ok" };
    case "ValidationError":
      return {
        kind: "error",
        message: payload.message,
        fields: payload.fieldErrors.map((e) => ({ path: e.path[0] === "input" ? e.path.slice(1) : e.path, message: e.message })),
      };
    case "ConflictError":
      return { kind: "error", message: `${payload.message} (now version ${payload.currentVersion}: reload the page)`, fields: [] };
    case "LicenceRequiredError":
      return { kind: "error", message: `${payload.message} (feature ${payload.feature})`, fields: [] };
    default:
      return { kind: "error", message: payload.message, fields: [] };
  }
}

export function GoalForm({ goalId }: { goalId?: string }) {
  const form = useQuery({ queryKey: ["form-data"], queryFn: () => execute(FormDataQuery), staleTime: 60_000 });
  const goal = useQuery({
    queryKey: ["goal", goalId],
    queryFn: () => execute(GoalQuery, { id: goalId! }),
    enabled: goalId != null,
  });
  const me = useQuery({ queryKey: ["me"], queryFn: () => execute(MeDocument), staleTime: Infinity });

  if (form.isPending || (goalId && goal.isPending)) return <p className="muted">Loading…</p>;
  if (form.isError) return <p className="error">{form.error.message}</p>;
  if (goal.isError) return <p className="error">{goal.error.message}</p>;
  if (goalId && !goal.data?.goal) return <p className="empty">This goal does not exist or you may not see it.</p>;
  return <GoalFormBody data={form.data} goal={goal.data?.goal ?? undefined} me={me.data} />;
}

function GoalFormBody({ data, goal, me }: { data: FormData; goal?: Goal; me?: MeQuery }) {
  const queryClient = useQueryClient();
  const initial = useMemo(() => (goal ? goalState(goal, data) : emptyState(data, me)), [goal, data, me]);
  const [s, setS] = useState<State>(initial);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const set = <K extends keyof State>(key: K, value: State[K]) => setS((old) => ({ ...old, [key]: value }));

  const enabled = new Set(data.features.filter((f) => f.enabled).map((f) => f.key));
  const type = data.goalTypes.find((t) => t.key === s.goalType);
  const measure = type?.measures.find((m) => m.key === s.measure);
  const kind = type ? factKind(type.category) : null;
  const dimensions = data.dimensions.filter((d) => kind && d.appliesTo.includes(kind));
  const split = data.dimensions.find((d) => d.key === s.splitBy);
  // The periods to set targets for: the saved goal's, or (new goal, changed calendar) a preview.
  const periods: PreviewPeriod[] = goal && calendarUnchanged(s, goal)
    ? goal.periods
    : previewPeriods(s.interval, s.startDate, s.endDate, s.fiscal, data.organisation.weekStart, data.organisation.fiscalYearStartMonth);
  const perPeriod = !!type?.perPeriodTargets && !s.splitBy;
  const canEditPeriods = perPeriod && !!s.endDate && s.interval !== "CUSTOM" && periods.length > 0;
  const readOnly = goal ? !goal.viewerCan.edit : false;

  function chooseType(key: string) {
    const next = data.goalTypes.find((t) => t.key === key);
    setS((old) => ({
      ...withMeasure(old, next, next?.measures.some((m) => m.key === old.measure) ? old.measure : next?.measures[0]?.key ?? ""),
      goalType: key,
      filters: Object.fromEntries(Object.entries(old.filters).filter(([k]) => next?.filters.some((f) => f.key === k))),
    }));
  }

  /** Fill the form from a template (its title's {assignee} and {period} placeholders are left to the user). */
  function applyTemplate(key: string) {
    const t = data.goalTemplates.find((x) => x.key === key);
    if (!t) return;
    const next = data.goalTypes.find((x) => x.key === t.goalType);
    const notify = (t.notifications ?? {}) as Partial<{ milestones: number[]; pace: boolean; periodClosed: boolean; assigned: boolean; teamLeaders: boolean }>;
    setS((old) => ({
      ...withMeasure(old, next, t.measure),
      title: t.title.replace(/\s*[–-]?\s*\{assignee\}/, "").replace(/\s*\{period\}/, "").trim() || t.label,
      goalType: t.goalType,
      interval: t.interval as Interval,
      assigneeKind: t.assigneeKind as AssigneeKind,
      assigneeId: t.assigneeKind === old.assigneeKind ? old.assigneeId : t.assigneeKind === "USER" ? me?.me.user?.id ?? "" : "",
      filters: Object.fromEntries(t.filters.filter((f) => next?.filters.some((nf) => nf.key === f.key)).map((f) => [f.key, f.values])),
      targetForAll: t.suggestedTarget ?? old.targetForAll,
      notify: {
        ...old.notify,
        ...(notify.milestones ? { milestones: notify.milestones.join(", ") } : {}),
        ...(notify.pace != null ? { pace: notify.pace } : {}),
        ...(notify.periodClosed != null ? { periodClosed: notify.periodClosed } : {}),
        ...(notify.assigned != null ? { assigned: notify.assigned } : {}),
        ...(notify.teamLeaders != null ? { teamLeaders: notify.teamLeaders } : {}),
      },
    }));
  }

  const errorsAt = (field: string, key?: string) =>
    outcome?.kind === "error"
      ? outcome.fields.filter((f) => f.path[0] === field && (key === undefined ? !f.keyed : f.keyed && f.path[1] === key)).map((f) => f.message)
      : [];

  async function submit(event: FormEvent) {
    event.preventDefault();
    const problems = clientProblems(s, periods, canEditPeriods);
    if (problems.length) {
      setOutcome({ kind: "error", message: "Not saved", fields: problems });
      return;
    }
    setBusy(true);
    setOutcome(null);
    try {
      let payload: GoalPayloadFieldsFragment;
      let id = goal?.id;
      if (!goal) {
        const input = toInput(s, type);
        const own = canEditPeriods ? overrides(s, periods) : [];
        if (own.length) input.periodTargets = own;
        const result = await execute(CreateGoalMutation, { input });
        payload = result.createGoal;
      } else {
        const before = toInput(initial, type) as Record<string, unknown>;
        const after = toInput(s, type) as Record<string, unknown>;
        const changes: Record<string, unknown> = {};
        for (const key of Object.keys(after)) {
          if (key === "goalType") continue;
          if (JSON.stringify(after[key] ?? null) !== JSON.stringify(before[key] ?? null)) changes[key] = after[key];
        }
        if (!s.splitBy && before.splitBy) changes.splitBy = null;
        if (canEditPeriods) {
          const was = overrides(initial, goal.periods);
          const now = overrides(s, periods);
          const moved = !calendarUnchanged(s, goal);
          if (JSON.stringify(was) !== JSON.stringify(now) || (moved && now.length)) changes.periodTargets = now;
        }
        const result = await execute(UpdateGoalMutation, { id: goal.id, version: goal.version, input: changes as GoalUpdateInput });
        payload = result.updateGoal;
      }
      const result = outcomeOf(payload);
      if (payload.__typename === "GoalSuccess") id = payload.goal.id;
      setOutcome(result);
      if (result.kind === "ok" && id) {
        await queryClient.invalidateQueries({ queryKey: ["goals"] });
        await queryClient.invalidateQueries({ queryKey: ["goal", id] });
        navigate({ page: "goal", id });
      }
    } catch (e) {
      const fields = e instanceof GraphQLRequestError ? variableProblems(e) : null;
      setOutcome({ kind: "error", message: fields ? "Not saved" : e instanceof Error ? e.message : String(e), fields: fields ?? [] });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="goal-form-page">
      <a className="back" href={goal ? href({ page: "goal", id: goal.id }) : href({ page: "goals" })}>← {goal ? goal.title : "Goals"}</a>
      <h1>{goal ? "Edit goal" : "New goal"}</h1>
      {readOnly && <p className="alert">You may not change this goal.</p>}
      <form className="card goal-form" onSubmit={submit} data-testid="goal-form">
        <fieldset disabled={readOnly || busy}>
          {!goal && data.goalTemplates.length > 0 && (
            <Field label="Start from a template" hint="Fills the form; everything stays editable.">
              <select name="template" defaultValue="" onChange={(e) => applyTemplate(e.target.value)} data-testid="template">
                <option value="">Blank goal</option>
                {data.goalTemplates.map((t) => (
                  <option key={t.key} value={t.key} disabled={!t.available}>{t.label}{t.available ? "" : " (not licensed)"}</option>
                ))}
              </select>
            </Field>
          )}
          <Field label="Title" errors={errorsAt("title")}>
            <input value={s.title} onChange={(e) => set("title", e.target.value)} required placeholder="Won revenue, team North" name="title" />
          </Field>

          <div className="row">
            <Field label="Goal type" errors={errorsAt("goalType")} hint={type?.description}>
              <select value={s.goalType} onChange={(e) => chooseType(e.target.value)} disabled={!!goal} name="goalType">
                {["DEAL", "ACTIVITY", "FORECAST", "SERVICE", "CUSTOM"].map((category) => {
                  const types = data.goalTypes.filter((t) => t.category === category);
                  if (!types.length) return null;
                  return (
                    <optgroup key={category} label={category.charAt(0) + category.slice(1).toLowerCase()}>
                      {types.map((t) => (
                        <option key={t.key} value={t.key} disabled={!!t.feature && !enabled.has(t.feature)}>
                          {t.label}{t.feature && !enabled.has(t.feature) ? ` (needs ${t.feature})` : ""}
                        </option>
                      ))}
                    </optgroup>
                  );
                })}
              </select>
            </Field>
            <Field label="Measure" errors={errorsAt("measure")}>
              <select value={s.measure} onChange={(e) => setS((old) => withMeasure(old, type, e.target.value))} name="measure">
                {type?.measures.map((m) => <option key={m.key} value={m.key}>{m.label}</option>)}
              </select>
            </Field>
            <Field label="Direction" errors={errorsAt("direction")}
              hint={measure?.aggregation === "AVERAGE" ? "An average: judged as a level, not projected." : null}>
              <select value={s.direction} name="direction" data-testid="direction"
                onChange={(e) => setS((old) => ({ ...old, direction: e.target.value as GoalDirection, directionChosen: true }))}>
                {DIRECTIONS.map((d) => <option key={d.value} value={d.value}>{d.label}</option>)}
              </select>
            </Field>
            {measure?.money && (
              <Field label="Currency" errors={errorsAt("currency")}>
                <input value={s.currency} onChange={(e) => set("currency", e.target.value.toUpperCase())} maxLength={3} className="short" name="currency" />
              </Field>
            )}
          </div>

          <div className="row">
            <Field label="For" errors={errorsAt("assignee")}>
              <select value={s.assigneeKind} onChange={(e) => setS((old) => ({ ...old, assigneeKind: e.target.value as AssigneeKind, assigneeId: "" }))} name="assigneeKind">
                <option value="USER">A user</option>
                <option value="TEAM">A team</option>
                <option value="COMPANY">The company</option>
              </select>
            </Field>
            {s.assigneeKind !== "COMPANY" && (
              <Field label={s.assigneeKind === "USER" ? "User" : "Team"}>
                <select value={s.assigneeId} onChange={(e) => set("assigneeId", e.target.value)} required name="assigneeId">
                  <option value="">Choose…</option>
                  {(s.assigneeKind === "USER" ? data.users.nodes : data.teams.nodes).map((a) => (
                    <option key={a.id} value={a.id}>{a.name}</option>
                  ))}
                </select>
              </Field>
            )}
          </div>

          {type && type.filters.length > 0 && (
            <div className="filters">
              <h2>Filters</h2>
              {type.filters.map((f) => (
                <FilterField
                  key={f.key}
                  filter={f}
                  data={data}
                  enabled={enabled}
                  values={s.filters[f.key] ?? []}
                  onChange={(values) => set("filters", { ...s.filters, [f.key]: values })}
                  pipelines={s.filters.pipelines ?? []}
                  errors={errorsAt("filters")}
                />
              ))}
            </div>
          )}

          <div className="row">
            <Field label="Periods" errors={errorsAt("interval")}>
              <select value={s.interval} onChange={(e) => set("interval", e.target.value as Interval)} name="interval">
                {INTERVALS.map((i) => <option key={i.value} value={i.value}>{i.label}</option>)}
              </select>
            </Field>
            <Field label="Start" errors={errorsAt("startDate")}>
              <input type="date" value={s.startDate} onChange={(e) => set("startDate", e.target.value)} required name="startDate" />
            </Field>
            <Field label="End" errors={errorsAt("endDate")} hint="Leave empty for an open-ended goal that rolls forward.">
              <input type="date" value={s.endDate} onChange={(e) => set("endDate", e.target.value)} required={s.interval === "CUSTOM"} name="endDate" />
            </Field>
            {(s.interval === "QUARTERLY" || s.interval === "YEARLY") && (
              <label className="check">
                <input type="checkbox" checked={s.fiscal} onChange={(e) => set("fiscal", e.target.checked)} /> Fiscal year
              </label>
            )}
          </div>

          {dimensions.length > 0 && (
            <Field label="Split by" errors={errorsAt("splitBy")} hint="Separate targets for each element of a dimension; the goal's target is their sum.">
              <select value={s.splitBy} onChange={(e) => set("splitBy", e.target.value)} name="splitBy">
                <option value="">No split</option>
                {dimensions.map((d) => (
                  <option key={d.key} value={d.key} disabled={!!d.feature && !enabled.has(d.feature)}>{d.label}</option>
                ))}
              </select>
            </Field>
          )}

          {split ? (
            <div className="element-targets">
              <h2>Target per {split.label.toLowerCase()}</h2>
              {errorsAt("elementTargets").map((m) => <p key={m} className="error">{m}</p>)}
              {split.elements.map((element) => {
                const problems = errorsAt("elementTargets", element);
                return (
                  <label key={element} className={`inline${problems.length ? " has-error" : ""}`}>
                    <span>{element}</span>
                    <AmountInput className="short" value={s.elementTargets[element] ?? ""} aria-invalid={problems.length > 0 || undefined}
                      onChange={(text) => set("elementTargets", { ...s.elementTargets, [element]: text })} />
                    {problems.map((m) => <span key={m} className="error small">{m}</span>)}
                  </label>
                );
              })}
            </div>
          ) : (
            <div className="row">
              <Field label={`Target per period${measure?.money ? ` (${s.currency})` : ""}`} errors={errorsAt("targetForAll")}
                hint={canEditPeriods ? "Applies to every period left empty below." : "Applies to every period."}>
                <AmountInput value={s.targetForAll} onChange={(text) => set("targetForAll", text)} name="targetForAll" placeholder="120,000"
                  aria-invalid={errorsAt("targetForAll").length > 0 || undefined} />
              </Field>
              <Field label="Stretch target" errors={errorsAt("stretchTarget")}>
                <AmountInput value={s.stretchTarget} onChange={(text) => set("stretchTarget", text)} name="stretchTarget" placeholder="optional"
                  aria-invalid={errorsAt("stretchTarget").length > 0 || undefined} />
              </Field>
            </div>
          )}

          {perPeriod && (
            <div className="period-targets" data-testid="period-targets">
              <h2>Targets per period <span className="muted small">(seasonality, optional)</span></h2>
              {canEditPeriods ? (
                <>
                  {errorsAt("periodTargets").map((m) => <p key={m} className="error" role="alert">{m}</p>)}
                  <div className="period-target-grid">
                    {periods.map((p) => {
                      const text = s.periodTargets[p.startDate] ?? "";
                      const own = decimal(text);
                      const differs = own != null && Number(own) !== Number(decimal(s.targetForAll));
                      const problems = errorsAt("periodTargets", p.startDate);
                      return (
                        <label key={p.startDate} className={`${differs ? "override" : ""}${problems.length ? " has-error" : ""}`}>
                          <span>{periodLabel(p.label)}</span>
                          <AmountInput value={text} name={`periodTarget-${p.startDate}`} placeholder={s.targetForAll ? "as above" : ""}
                            aria-invalid={problems.length > 0 || undefined}
                            onChange={(next) => set("periodTargets", { ...s.periodTargets, [p.startDate]: next })} />
                          {problems.map((m) => <span key={m} className="error small">{m}</span>)}
                        </label>
                      );
                    })}
                  </div>
                  <div className="period-target-tools">
                    <button type="button" className="link" onClick={() => set("periodTargets", Object.fromEntries(periods.map((p) => [p.startDate, s.targetForAll])))}>
                      Apply {decimal(s.targetForAll) != null ? amount(decimal(s.targetForAll), measure?.money ? s.currency : null) : "the target"} to all periods
                    </button>
                    <button type="button" className="link" onClick={() => set("periodTargets", {})}>Clear period targets</button>
                  </div>
                </>
              ) : (
                <p className="muted">
                  {!s.endDate
                    ? "Give an end date to set a target per period; an open-ended goal has one target for every period."
                    : "A custom range is one period: its target is the one above."}
                </p>
              )}
            </div>
          )}
          <fieldset className="notify" data-testid="notify-settings">
            <legend>Notify contributors</legend>
            <label className="check">
              <input type="checkbox" checked={s.notify.assigned} name="notifyAssigned"
                onChange={(e) => set("notify", { ...s.notify, assigned: e.target.checked })} /> When the goal is assigned to them
            </label>
            <Field label="At these % of the target" errors={errorsAt("notifications", "milestones")} hint="Each is announced once per period, e.g. 50, 100.">
              <input value={s.notify.milestones} name="notifyMilestones" inputMode="numeric"
                onChange={(e) => set("notify", { ...s.notify, milestones: e.target.value })} />
            </Field>
            <label className="check">
              <input type="checkbox" checked={s.notify.pace} name="notifyPace"
                onChange={(e) => set("notify", { ...s.notify, pace: e.target.checked })} /> When it falls behind or is at risk
            </label>
            <label className="check">
              <input type="checkbox" checked={s.notify.periodClosed} name="notifyClosed"
                onChange={(e) => set("notify", { ...s.notify, periodClosed: e.target.checked })} /> When a period closes (achieved or missed)
            </label>
            {s.assigneeKind === "TEAM" && (
              <label className="check">
                <input type="checkbox" checked={s.notify.teamLeaders} name="notifyLeaders"
                  onChange={(e) => set("notify", { ...s.notify, teamLeaders: e.target.checked })} /> Team leaders too
              </label>
            )}
          </fieldset>
        </fieldset>

        {outcome?.kind === "error" && (
          <div className="error-box" role="alert">
            <strong>{outcome.fields.length ? "Not saved — please fix the fields marked above:" : outcome.message}</strong>
            {outcome.fields.length > 0 && (
              <ul>
                {outcome.fields.map((f, i) => (
                  <li key={i}>
                    {FIELD_LABEL[f.path[0]] ?? f.path[0]}
                    {f.keyed && f.path[0] === "elementTargets" ? ` (${f.path[1]})` : ""}
                    {f.keyed && f.path[0] === "periodTargets" ? ` (${periodLabel(periods.find((p) => p.startDate === f.path[1])?.label ?? f.path[1])})` : ""}: {f.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={readOnly || busy}>{busy ? "Saving…" : goal ? "Save changes" : "Create goal"}</button>
          <a className="button secondary" href={goal ? href({ page: "goal", id: goal.id }) : href({ page: "goals" })}>Cancel</a>
          {goal && <span className="muted small">Version {goal.version}</span>}
        </div>
      </form>
    </section>
  );
}

function Field({ label, children, errors = [], hint }: { label: string; children: ReactNode; errors?: string[]; hint?: string | null }) {
  return (
    <label className={`field${errors.length ? " has-error" : ""}`}>
      <span className="label">{label}</span>
      {children}
      {hint && <span className="hint-text">{hint}</span>}
      {errors.map((m) => <span key={m} className="error small">{m}</span>)}
    </label>
  );
}

function FilterField({ filter, data, enabled, values, onChange, pipelines, errors }: {
  filter: FilterInfo;
  data: FormData;
  enabled: Set<string>;
  values: string[];
  onChange: (values: string[]) => void;
  pipelines: string[];
  errors: string[];
}) {
  const label = `${filter.label}${filter.required ? " (required)" : ""}`;
  const dimension = filter.dimension ? data.dimensions.find((d) => d.key === filter.dimension) : undefined;
  let options: { value: string; label: string; group?: string }[] | null = null;
  if (dimension) {
    if (dimension.feature && !enabled.has(dimension.feature)) return null;
    options = dimension.elements.map((e) => ({ value: e, label: e }));
  } else if (filter.choices) {
    options = filter.choices.map((c) => ({ value: c, label: c }));
  } else if (filter.kind === "REFERENCE" && filter.key.startsWith("pipeline")) {
    options = data.pipelines.map((p) => ({ value: p.id, label: p.name }));
  } else if (filter.kind === "REFERENCE" && filter.key.startsWith("stage")) {
    options = data.pipelines
      .filter((p) => pipelines.length === 0 || pipelines.includes(p.id))
      .flatMap((p) => p.stages.map((st) => ({ value: st.id, label: st.name, group: p.name })));
  }
  const relevant = errors.length ? errors : [];

  if (options && filter.multiple) {
    return (
      <div className="field" data-filter={filter.key}>
        <span className="label" title={filter.description}>{label}</span>
        <div className="checks">
          {options.map((o) => (
            <label key={o.value} className="check">
              <input
                type="checkbox"
                checked={values.includes(o.value)}
                onChange={(e) => onChange(e.target.checked ? [...values, o.value] : values.filter((v) => v !== o.value))}
              />
              {o.group ? `${o.group} · ` : ""}{o.label}
            </label>
          ))}
        </div>
        <span className="hint-text">{filter.description}{values.length === 0 && !filter.required ? " None ticked: no filter." : ""}</span>
        {relevant.map((m) => <span key={m} className="error small">{m}</span>)}
      </div>
    );
  }
  if (options) {
    const groups = [...new Set(options.map((o) => o.group ?? ""))];
    return (
      <label className="field" data-filter={filter.key}>
        <span className="label" title={filter.description}>{label}</span>
        <select value={values[0] ?? ""} onChange={(e) => onChange(e.target.value ? [e.target.value] : [])} required={filter.required}>
          <option value="">{filter.required ? "Choose…" : "Any"}</option>
          {groups.map((g) =>
            g ? (
              <optgroup key={g} label={g}>
                {options!.filter((o) => o.group === g).map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
              </optgroup>
            ) : (
              options!.filter((o) => !o.group).map((o) => <option key={o.value} value={o.value}>{o.label}</option>)
            ),
          )}
        </select>
        <span className="hint-text">{filter.description}</span>
      </label>
    );
  }
  return (
    <label className="field" data-filter={filter.key}>
      <span className="label" title={filter.description}>{label}</span>
      <TextList values={values} onChange={onChange} multiple={filter.multiple} required={filter.required} />
      <span className="hint-text">{filter.description}</span>
    </label>
  );
}

/** Free-text values, comma-separated when the filter takes several. */
function TextList({ values, onChange, multiple, required }: { values: string[]; onChange: (values: string[]) => void; multiple: boolean; required: boolean }) {
  const [text, setText] = useState(values.join(", "));
  return (
    <input
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        const parts = e.target.value.split(multiple ? "," : /$^/).map((v) => v.trim()).filter(Boolean);
        onChange(parts);
      }}
      placeholder={multiple ? "comma-separated, e.g. call, meeting" : ""}
      required={required}
    />
  );
}
