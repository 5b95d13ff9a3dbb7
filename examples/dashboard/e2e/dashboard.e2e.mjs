// End-to-end check of the built dashboard in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; no browser is downloaded).
//
//   DASHBOARD_URL=http://127.0.0.1:8000/ GOALGRAPH_TOKEN=<viewer token> \
//   GOALGRAPH_SERVICE_TOKEN=<goalgraph token crm-sync --system> node e2e/dashboard.e2e.mjs
//
// Signs in with GOALGRAPH_TOKEN, sees the goals, opens the goal titled GOAL_TITLE (default
// "Won revenue"), clicks the bar of its current period and sees the deals behind it, exports the
// chart as PNG; then, with GOALGRAPH_SERVICE_TOKEN, ingests a won deal through GraphQL and waits
// for the bar, the actual and the deal list to change without a reload (the goalProgress
// subscription); a goal assigned to the viewer rings the bell (the notifications subscription) and
// its notice is marked read in the panel. Then: locks and unlocks GOAL_TO_LOCK (default "Deals won — South"), creates a goal
// with per-period targets through the form (after a non-numeric target is named beside its field),
// deletes it, checks the targets plan's read-only rows, opens a team's row in the plan's hierarchy by keyboard,
// downloads the plan as CSV and uploads it with a bad cell (the error names its line) and with a good one
// (the dry run says what would change, Apply changes the cell), and — with GOALGRAPH_ADMIN_TOKEN — copies
// last year's plan +10 %. axe-core runs on the goals list, the chart with its drill-down, the goal
// form, the notifications panel and the targets plan (0 serious or critical violations), the drill-down is opened by keyboard,
// and every screen is checked at 390×844 for horizontal overflow.
// Screenshots go to E2E_OUT (default e2e/out). Exit code 0 when every step passed.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { chromium } from "playwright-core";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

const base = process.env.DASHBOARD_URL ?? "http://127.0.0.1:8000/";
const token = process.env.GOALGRAPH_TOKEN;
const serviceToken = process.env.GOALGRAPH_SERVICE_TOKEN;
const goalTitle = process.env.GOAL_TITLE ?? "Won revenue";
const lockTitle = process.env.GOAL_TO_LOCK ?? "Deals won — South";
const adminToken = process.env.GOALGRAPH_ADMIN_TOKEN;
const out = resolve(process.env.E2E_OUT ?? new URL("./out", import.meta.url).pathname);
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT = Number(process.env.E2E_STEP_TIMEOUT_MS ?? 15000);
// A command writing facts from another process (JSON array, the CSV file appended), e.g.
// ["python", "-m", "goalgraph.cli", "import"]; run in E2E_WRITER_CWD with GOALGRAPH_DATABASE_URL=E2E_WRITER_DB.
const writer = process.env.E2E_WRITER ? JSON.parse(process.env.E2E_WRITER) : null;

if (!token) {
  console.error("GOALGRAPH_TOKEN is required (a viewer's bearer token)");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const started = Date.now();
function step(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true, deviceScaleFactor: 1 });
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT);
const consoleErrors = [];
page.on("console", (msg) => {
  if (msg.type() === "error") consoleErrors.push(msg.text());
});
page.on("pageerror", (error) => consoleErrors.push(String(error)));
let binaryFrames = 0;
page.on("websocket", (socket) => socket.on("framereceived", ({ payload }) => {
  if (typeof payload !== "string") binaryFrames += 1;
}));

async function shot(name) {
  const file = resolve(out, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  step(`screenshot ${file}`);
}

/** axe-core on the page as it is: fails on any serious or critical violation, notes the others. */
async function axe(screen) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, where: v.nodes.slice(0, 3).map((n) => `${n.target.join(" ")}: ${n.failureSummary?.split("\n").slice(1, 2).join("")}`) }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const minor = violations.filter((v) => !bad.includes(v)).map((v) => `${v.id} (${v.impact}, ${v.nodes})`);
  if (bad.length) throw new Error(`axe on ${screen}: ${bad.length} serious/critical violation(s): ${JSON.stringify(bad, null, 1)}`);
  step(`axe on ${screen}: 0 serious or critical violations${minor.length ? `; minor: ${minor.join(", ")}` : ""}`);
}

/** At a phone's width the page must not scroll sideways. */
async function noHorizontalOverflow(screen) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) {
    const wide = await page.evaluate(() => [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > 391).slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className}`));
    throw new Error(`${screen} at 390 px: the page is ${width} px wide (${wide.join(", ")})`);
  }
  step(`phone ${screen}: scrollWidth ${width} <= 390`);
}

async function gql(bearer, query, variables) {
  const response = await fetch(new URL("/graphql", base), {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

async function signIn(bearer) {
  await page.goto(base, { waitUntil: "domcontentloaded" });
  await page.evaluate(() => sessionStorage.clear());
  await page.reload({ waitUntil: "domcontentloaded" });
  await page.locator("textarea#token").fill(bearer);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator('[data-testid="viewer-name"]').waitFor();
}

/** The actual bars as the chart published them (data-bars on the chart holder). */
async function bars() {
  const raw = await page.locator('[data-testid="period-chart"]').getAttribute("data-bars");
  return JSON.parse(raw ?? "[]");
}

try {
  // 1. Sign in.
  await page.goto(base, { waitUntil: "domcontentloaded" });
  await page.locator("textarea#token").waitFor();
  step("login screen shown");
  await shot("01-login");
  await axe("the login screen");
  await page.locator("textarea#token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();

  // 2. The goals the viewer may see.
  const cards = page.locator('[data-testid="goal-card"]');
  await cards.first().waitFor();
  const viewer = (await page.locator('[data-testid="viewer-name"]').innerText()).replace(/\s+/g, " ");
  const count = await cards.count();
  step(`signed in as ${viewer}; ${count} goal cards`);
  if (count < 1) throw new Error("no goals shown");
  await page.locator('.live[data-live="live"]').waitFor();
  step("live connection up");
  const paces = await page.locator('[data-testid="goal-card"] [data-pace]').evaluateAll(
    (els) => els.map((e) => `${e.getAttribute("data-pace")}:${e.textContent}`));
  if (paces.length === 0) throw new Error("no pace badge on any goal card with a period under way");
  step(`pace badges: ${[...new Set(paces)].sort().join(", ")}`);
  await page.waitForTimeout(700); // let the progress bars finish their transition
  await shot("02-goals");
  await axe("the goals list");

  // A filter change keeps the cards on screen while the new list loads.
  await page.locator('select[name="kind"]').selectOption("TEAM");
  if ((await cards.count()) === 0) throw new Error("the list went blank while the filter changed");
  await page.locator('[data-testid="goal-list"][aria-busy="false"]').waitFor();
  step(`filter "Teams": ${await cards.count()} cards, the list stayed visible while loading`);
  await page.locator('select[name="kind"]').selectOption("ALL");
  await page.locator('[data-testid="goal-list"][aria-busy="false"]').waitFor();

  // 3. Open the goal and its chart.
  const card = cards.filter({ hasText: goalTitle }).first();
  if ((await card.count()) === 0) throw new Error(`no goal card titled like "${goalTitle}"`);
  await card.click();
  await page.locator('[data-testid="goal-detail"]').waitFor();
  const chart = page.locator('[data-testid="period-chart"]');
  await page.locator('[data-testid="period-chart"][data-ready="true"]').waitFor();
  const goalId = await page.locator('[data-testid="goal-detail"]').getAttribute("data-goal-id");
  const currentRow = page.locator('[data-testid="period-row"].current');
  const currentIndex = Number(await currentRow.getAttribute("data-period-index"));
  const before = (await bars()).find((b) => b.index === currentIndex);
  if (!before) throw new Error(`no bar for the current period (index ${currentIndex})`);
  step(`goal ${goalId} open: ${(await bars()).length} bars; current period ${before.label} actual ${before.actual}`);

  // 4. Click a bar: the deals behind it are listed. The current period's, unless it has nothing yet
  //    (the first hours of a month), then the latest period with something in it.
  const all = await bars();
  const clicked = Number(before.actual) > 0 ? before : [...all].reverse().find((b) => Number(b.actual) > 0) ?? before;
  const box = await chart.locator("canvas").boundingBox();
  const y = clicked.base - clicked.top > 12 ? (clicked.top + clicked.base) / 2 : clicked.base - 30;
  await page.mouse.move(box.x + clicked.x, box.y + y);
  await page.mouse.click(box.x + clicked.x, box.y + y);
  const panel = page.locator(`[data-testid="contributions"][data-period="${clicked.label}"]`);
  await panel.waitFor();
  const deals = panel.locator('[data-testid="contribution"][data-deal-id]');
  if (Number(clicked.actual) > 0) {
    await deals.first().waitFor();
    const firstDeal = (await deals.first().locator(".fact-title").innerText()).trim();
    step(`clicked bar ${clicked.label}: ${await deals.count()} deals listed (first: ${firstDeal})`);
  } else {
    await panel.locator(".empty").waitFor();
    step(`clicked bar ${clicked.label}: no deals yet, as its actual says`);
  }
  await page.mouse.move(box.x + clicked.x, box.y + y + 1); // keep the tooltip up for the screenshot
  await page.waitForTimeout(300);
  await shot("03-chart-and-deals");
  await page.mouse.move(5, 5);
  await axe("a goal's chart and drill-down");

  // The drill-down by keyboard: a period row takes focus and opens with Enter; the chart takes
  // focus, the arrow keys choose a bar and Space opens it.
  const firstRow = page.locator('[data-testid="period-row"]').first();
  const firstLabel = (await bars())[0].label;
  await firstRow.focus();
  await page.keyboard.press("Enter");
  await page.locator(`[data-testid="contributions"][data-period="${firstLabel}"]`).waitFor();
  await chart.focus();
  await page.keyboard.press("End");
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press(" ");
  const allBars = await bars();
  const viaKeys = allBars[allBars.length - 2].label;
  await page.locator(`[data-testid="contributions"][data-period="${viaKeys}"]`).waitFor();
  const announced = await page.locator('[data-testid="chart-active"]').innerText();
  step(`keyboard: Enter on the first period row listed ${firstLabel}; End, ← and Space on the chart listed ${viaKeys} ("${announced}")`);
  // Back to the bar the live update below watches.
  await page.mouse.click(box.x + clicked.x, box.y + y);
  await page.locator(`[data-testid="contributions"][data-period="${clicked.label}"]`).waitFor();

  // 5. Export the chart as PNG.
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="export-png"]').click()]);
  const pngPath = resolve(out, download.suggestedFilename());
  await download.saveAs(pngPath);
  const { readFileSync } = await import("node:fs");
  const png = readFileSync(pngPath);
  if (png.length < 1000 || png.subarray(1, 4).toString() !== "PNG") throw new Error(`export is not a PNG (${png.length} bytes)`);
  step(`exported ${download.suggestedFilename()} (${png.length} bytes)`);

  // 6. A deal ingested through GraphQL moves the bar, without a reload.
  if (serviceToken) {
    await page.evaluate(() => { window.__noReload = true; });
    const actualCell = currentRow.locator('[data-testid="period-actual"]');
    const actualBefore = (await actualCell.innerText()).trim();
    const sameBar = clicked.index === currentIndex;
    const listedBefore = Number(await panel.locator(".count").innerText());
    const now = new Date();
    const dealId = `e2e-${now.getTime()}`;
    const title = `E2E live deal ${now.toISOString().slice(11, 19)}`;
    const mutation = `mutation Ingest($input: IngestFactsInput!) { ingestFacts(input: $input) {
      __typename ... on IngestFactsResult { deals { created } } ... on ValidationError { message fieldErrors { path message } } } }`;
    const input = {
      deals: [{
        id: dealId, title, value: "25000", currency: "EUR", ownerId: process.env.E2E_DEAL_OWNER ?? "user-05",
        stageId: "stage-nb-contract", status: "WON",
        addedAt: new Date(now.getTime() - 3600_000).toISOString(), wonAt: now.toISOString(), updatedAt: now.toISOString(),
      }],
    };
    const response = await fetch(new URL("/graphql", base), {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${serviceToken}` },
      body: JSON.stringify({ query: mutation, variables: { input } }),
    });
    const body = await response.json();
    if (body.errors || body.data?.ingestFacts?.__typename !== "IngestFactsResult") {
      throw new Error(`ingestFacts failed: ${JSON.stringify(body)}`);
    }
    const ingestedAt = Date.now();
    step(`ingested won deal ${dealId} (25,000 EUR) through GraphQL`);
    await page.waitForFunction(
      ({ index, top }) => {
        const raw = document.querySelector('[data-testid="period-chart"]')?.getAttribute("data-bars");
        const bar = raw && JSON.parse(raw).find((b) => b.index === index);
        return bar && bar.top < top - 0.5;
      },
      { index: currentIndex, top: before.top },
      { timeout: STEP_TIMEOUT },
    );
    const after = (await bars()).find((b) => b.index === currentIndex);
    const actualAfter = (await actualCell.innerText()).trim();
    if (actualAfter === actualBefore) throw new Error(`the actual stayed ${actualBefore}`);
    if (sameBar) {
      // The drill-down refreshes too: one more deal counted (new facts are appended to the list).
      await page.waitForFunction(
        (expected) => Number(document.querySelector('[data-testid="contributions"] .count')?.textContent) === expected,
        listedBefore + 1,
        { timeout: STEP_TIMEOUT },
      );
    }
    const reloaded = await page.evaluate(() => window.__noReload !== true);
    if (reloaded) throw new Error("the page reloaded");
    step(`bar moved in ${((Date.now() - ingestedAt) / 1000).toFixed(1)} s without a reload: actual ${actualBefore} → ${actualAfter} (${before.actual} → ${after.actual}); bar top ${before.top.toFixed(0)} → ${after.top.toFixed(0)} px${sameBar ? `; deals counted ${listedBefore} → ${listedBefore + 1}` : ""}`);
    await page.waitForTimeout(500);
    await shot("04-after-live-update");
  } else {
    step("GOALGRAPH_SERVICE_TOKEN not set: live update not checked");
  }

  // 6b. The bell: a goal assigned to the viewer rings it (the notifications subscription, no reload); the
  //     panel lists the notice unread first; "Mark read" and "Mark all read" bring the count down.
  if (serviceToken) {
    await page.evaluate(() => { window.__noReload = true; });
    const bell = page.locator('[data-testid="bell"]');
    const unread = async () => Number(await bell.getAttribute("data-unread"));
    await bell.click();
    const bellPanel = page.locator('[data-testid="bell-panel"]');
    await bellPanel.waitFor();
    const bellTitle = `E2E bell ${new Date().toISOString().slice(11, 19)}`;
    const created = await gql(serviceToken, `mutation($i: GoalInput!) { createGoal(input: $i) { __typename
      ... on GoalSuccess { goal { id version } } } }`, { i: {
      title: bellTitle, goalType: "DEALS_ADDED", measure: "COUNT", interval: "MONTHLY",
      startDate: `${new Date().getUTCFullYear()}-01-01`, targetForAll: "5", assignee: { kind: "USER", id: process.env.E2E_DEAL_OWNER ?? "user-05" },
    } });
    if (created.data?.createGoal?.__typename !== "GoalSuccess") throw new Error(`createGoal failed: ${JSON.stringify(created)}`);
    const createdAt = Date.now();
    // The assignment's notice: the goal may also reach a milestone at once (the owner has deals this month).
    const notice = bellPanel.locator('[data-testid="notice"]', { hasText: `You were assigned the goal “${bellTitle}”` });
    await notice.waitFor({ timeout: STEP_TIMEOUT });
    if ((await notice.getAttribute("data-read")) !== "false") throw new Error("the new notice is not unread");
    const ringing = await unread();
    const badge = (await page.locator('[data-testid="bell-count"]').innerText()).trim();
    if (ringing < 1 || badge !== (ringing > 99 ? "99+" : String(ringing))) throw new Error(`bell shows ${badge}, unread ${ringing}`);
    const order = await bellPanel.locator('[data-testid="notice"]').evaluateAll((items) => items.map((i) => i.getAttribute("data-read")));
    if (order.indexOf("true") !== -1 && order.lastIndexOf("false") > order.indexOf("true")) throw new Error(`read before unread: ${order}`);
    if (await page.evaluate(() => window.__noReload !== true)) throw new Error("the page reloaded");
    step(`bell rang in ${((Date.now() - createdAt) / 1000).toFixed(1)} s without a reload: ${ringing} unread, "${bellTitle}" listed unread (unread first)`);
    await axe("the notifications panel");
    await shot("04b-bell");
    await notice.getByRole("button", { name: /^Mark read/ }).click();
    await page.waitForFunction(
      ({ title }) => [...document.querySelectorAll('[data-testid="notice"]')].some((n) => n.textContent.includes(title) && n.getAttribute("data-read") === "true"),
      { title: bellTitle }, { timeout: STEP_TIMEOUT });
    const afterOne = await unread();
    if (afterOne >= ringing) throw new Error(`unread stayed ${afterOne} after marking one read`);
    step(`marked read: the bell shows ${afterOne} unread (was ${ringing})`);
    if (afterOne > 0) {
      await bellPanel.getByRole("button", { name: "Mark all read" }).click();
      await page.waitForFunction(() => document.querySelector('[data-testid="bell"]')?.getAttribute("data-unread") === "0",
        null, { timeout: STEP_TIMEOUT });
    }
    if (await page.locator('[data-testid="bell-count"]').count()) throw new Error("the bell still shows a count");
    step("all read: the bell shows no count");
    await page.keyboard.press("Escape");
    await bellPanel.waitFor({ state: "detached" });
    const goal = created.data.createGoal.goal;
    await gql(serviceToken, "mutation($id: ID!, $v: Int!) { deleteGoal(id: $id, version: $v) { __typename } }", { id: goal.id, v: goal.version });
  }

  // 6c. A fact written by another process (an import) is pending until a server's worker stores it:
  // the period says "updating…" (the server recomputes nothing in the request: E2E runs it with
  // GOALGRAPH_INLINE_RECOMPUTE_FACTS=0), then the new figure arrives by itself.
  if (writer && serviceToken) {
    // First let the server's worker finish what earlier steps gave it (a round under way would take the import's marks too).
    const backlog = async () => (await (await fetch(new URL("/healthz", base))).json()).database?.store?.staleMarks;
    for (const started = Date.now(); (await backlog()) !== 0;) {
      if (Date.now() - started > STEP_TIMEOUT) throw new Error("the store's backlog did not drain");
      await page.waitForTimeout(200);
    }
    await page.waitForTimeout(500);
    const now = new Date();
    const csv = resolve(out, "deals-pending.csv");
    const iso = now.toISOString();
    writeFileSync(csv, "id,title,value,currency,owner_id,stage_id,status,added_at,won_at,updated_at\n" +
      `e2e-pending-${now.getTime()},E2E pending deal,5000,EUR,${process.env.E2E_DEAL_OWNER ?? "user-05"},stage-nb-contract,WON,${iso},${iso},${iso}\n`);
    execFileSync(writer[0], [...writer.slice(1), "--no-progress", csv], {
      cwd: process.env.E2E_WRITER_CWD, env: { ...process.env, GOALGRAPH_DATABASE_URL: process.env.E2E_WRITER_DB }, stdio: "pipe",
    });
    // Open the goal again once the SPA's cached copy is stale (10 s), so it reads it afresh
    // (a reload would sign out).
    await page.goto(`${base}#/goals`);
    await page.waitForTimeout(10_500);
    await cards.filter({ hasText: goalTitle }).first().click();
    await page.locator('[data-testid="goal-detail"]').waitFor();
    try {
      await page.locator('[data-testid="updating"]').first().waitFor({ timeout: STEP_TIMEOUT });
    } catch (error) {
      const health = await (await fetch(new URL("/healthz", base))).json();
      await shot("04c-not-updating");
      throw new Error(`no "updating…" shown (store backlog ${JSON.stringify(health.database?.store)}): ${error.message}`);
    }
    step(`a deal imported by another process: the current period says "updating…"`);
    await shot("04b-updating");
    // A write through this server wakes its recompute worker: the imported deal is counted and pushed.
    const wake = await fetch(new URL("/graphql", base), {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${serviceToken}` },
      body: JSON.stringify({ query: `mutation($input: IngestFactsInput!) { ingestFacts(input: $input) { __typename } }`,
        variables: { input: { deals: [{ id: `e2e-wake-${now.getTime()}`, title: "E2E wake", value: "1", currency: "EUR",
          ownerId: process.env.E2E_DEAL_OWNER ?? "user-05", stageId: "stage-nb-contract", addedAt: iso, updatedAt: iso }] } } }),
    });
    if (!wake.ok) throw new Error(`ingest to wake the worker failed: ${wake.status}`);
    await page.waitForFunction(() => !document.querySelector('[data-testid="updating"]'), null, { timeout: STEP_TIMEOUT });
    step(`… and "updating…" went away when the stored figure was pushed`);
  } else {
    step("E2E_WRITER not set: the pending state not checked");
  }

  // 7. Lock and unlock a goal's targets.
  await page.goto(`${base}#/goals`);
  await cards.filter({ hasText: lockTitle }).first().click();
  await page.locator('[data-testid="goal-detail"]').waitFor();
  await page.locator('[data-testid="lock-goal"]').click();
  await page.locator('[data-testid="unlock-goal"]').waitFor();
  await page.locator('[data-testid="locked-note"]').waitFor();
  step(`"${lockTitle}" locked (the page says "targets locked")`);
  await page.locator('[data-testid="unlock-goal"]').click();
  await page.locator('[data-testid="lock-goal"]').waitFor();
  if (await page.locator('[data-testid="locked-note"]').count()) throw new Error("still shown as locked after unlocking");
  step(`"${lockTitle}" unlocked again`);

  // A goal form started from a template (filled, still editable).
  await page.goto(`${base}#/goals/new`);
  await page.locator('[data-testid="template"]').waitFor();
  await page.locator('[data-testid="template"]').selectOption("WEEKLY_CALLS_COMPLETED");
  const typeChosen = await page.locator('select[name="goalType"]').inputValue();
  const targetChosen = await page.locator('input[name="targetForAll"]').inputValue();
  if (typeChosen !== "ACTIVITIES_COMPLETED" || !targetChosen.startsWith("50")) {
    throw new Error(`template did not fill the form: ${typeChosen}, ${targetChosen}`);
  }
  step(`template "Weekly calls completed" filled the form: ${typeChosen}, target ${targetChosen}`);
  await page.goto(`${base}#/goals`);

  // 8. A new goal with per-period targets; a bad number is named beside its field.
  await page.goto(`${base}#/goals/new`);
  const form = page.locator('[data-testid="goal-form"]');
  await form.waitFor();
  await page.locator('[data-testid="period-targets"] input').first().waitFor();
  await axe("the goal form");
  const newTitle = `E2E seasonal goal ${Date.now()}`;
  await form.locator('input[name="title"]').fill(newTitle);
  await form.locator('input[name="targetForAll"]').fill("ten thousand");
  await form.getByRole("button", { name: "Create goal" }).click();
  const fieldError = form.locator(".field.has-error", { has: page.locator('input[name="targetForAll"]') }).locator(".error");
  await fieldError.waitFor();
  step(`a non-numeric target is refused beside its field: "${(await fieldError.innerText()).trim()}"`);
  await form.locator('input[name="targetForAll"]').fill("10,000");
  await form.locator('[data-testid="notify-settings"] input[name="notifyMilestones"]').fill("25, 75, 100");
  await form.locator('[data-testid="notify-settings"] input[name="notifyPace"]').uncheck();
  step("notification settings in the goal form: milestones 25, 75, 100; pace alerts off");
  const preselected = await form.locator('[data-testid="direction"]').inputValue();
  if (preselected !== "HIGHER_IS_BETTER") throw new Error(`direction not preselected from the measure: ${preselected}`);
  await form.locator('[data-testid="direction"]').selectOption("LOWER_IS_BETTER");
  step(`direction preselected ${preselected} (the measure's default), changed to LOWER_IS_BETTER`);
  const periodInputs = form.locator('[data-testid="period-targets"] input');
  const periodCount = await periodInputs.count();
  await periodInputs.last().fill("25000");
  await form.getByRole("button", { name: "Create goal" }).click();
  await page.locator(`[data-testid="goal-detail"] h1:has-text("${newTitle}")`).waitFor();
  await page.locator('[data-testid="direction-note"]').waitFor();
  const targets = await page.locator('[data-testid="period-row"] td:nth-child(2)').allInnerTexts();
  if (targets.length !== periodCount || !targets[targets.length - 1].endsWith("25,000") || !targets[0].endsWith("10,000")) {
    throw new Error(`per-period targets not as entered: ${targets.join(", ")}`);
  }
  step(`created "${newTitle}" with ${periodCount} period fields: first ${targets[0]}, last ${targets[targets.length - 1]}`);

  // 9. Delete it.
  await page.locator('[data-testid="delete-goal"]').click();
  await page.locator('[data-testid="confirm-delete"]').click();
  await page.locator('[data-testid="notice"]').waitFor();
  await cards.first().waitFor();
  if (await cards.filter({ hasText: newTitle }).count()) throw new Error("the deleted goal is still listed");
  step(`deleted it: "${(await page.locator('[data-testid="notice"]').innerText()).trim()}", no longer listed`);

  // 10. The targets plan: rows the viewer may not change have no fields.
  await page.goto(`${base}#/plan`);
  await page.locator('[data-testid="targets-plan"]').waitFor();
  const readOnly = await page.locator('[data-testid="plan-row"][data-readonly="true"]').count();
  const editable = await page.locator('[data-testid="plan-row"]:not([data-readonly]) [data-testid="plan-cell"]').count();
  if (!readOnly || !editable) throw new Error(`expected read-only and editable rows: ${readOnly} read-only, ${editable} editable cells`);
  step(`targets plan: ${readOnly} read-only rows (no fields), ${editable} editable cells`);
  await axe("the targets plan");

  await shot("05-targets-plan");

  // The plan's hierarchy: the company row is open (its teams under it, with their sum); a team opens
  // by keyboard (a button with aria-expanded) to its members, indented one level deeper.
  const southRow = page.locator('[data-testid="plan-row"][data-key="TEAM:team-south"]');
  const southToggle = southRow.locator('[data-testid="plan-toggle"]');
  if ((await southToggle.getAttribute("aria-expanded")) !== "false") throw new Error("Team South should start closed");
  const companyOpen = await page.locator('[data-testid="plan-row"][data-key="COMPANY"] [data-testid="plan-toggle"]').getAttribute("aria-expanded");
  const teamsShown = await page.locator('[data-testid="plan-row"][data-depth="1"]').count();
  await southToggle.focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector('[data-key="TEAM:team-south"] [data-testid="plan-toggle"]')?.getAttribute("aria-expanded") === "true");
  const southMembers = page.locator('[data-testid="plan-row"][data-depth="2"]');
  await southMembers.first().waitFor();
  const memberCount = await southMembers.count();
  const indents = await page.evaluate(() => ["COMPANY", "TEAM:team-south"].map((k) => document.querySelector(`[data-testid="plan-row"][data-key="${k}"] th`))
    .concat([document.querySelector('[data-testid="plan-row"][data-depth="2"] th')]).map((th) => parseFloat(getComputedStyle(th).paddingLeft)));
  if (!(indents[0] < indents[1] && indents[1] < indents[2])) throw new Error(`rows not indented by depth: ${indents.join(", ")}`);
  const membersSum = (await page.locator('[data-testid="plan-sum"][data-key="TEAM:team-south"] th').textContent()).trim();
  step(`plan hierarchy: company open (${companyOpen}, ${teamsShown} rows under it); Enter on Team South's toggle opened ${memberCount} member rows, indented ${indents.map((x) => Math.round(x)).join(" < ")} px; "${membersSum}" under the team`);

  // One cell, "Fill right", save: the new plan goal has every month and the assignee's name.
  const planRow = page.locator('[data-testid="plan-row"]:not([data-readonly])[data-assignee^="USER:"]').first();
  const planUser = (await planRow.getAttribute("data-assignee")).slice("USER:".length);
  await planRow.locator('[data-testid="plan-cell"]').first().fill("50000");
  await planRow.locator('[data-testid="fill-right"]').click();
  await page.locator('[data-testid="plan-save"]').click();
  const saved = page.locator('[data-testid="plan-message"]');
  await saved.waitFor();
  if (!(await saved.innerText()).startsWith("Saved")) throw new Error(`plan not saved: ${await saved.innerText()}`);
  const planGoal = await gql(token, `query($key: PlanKeyInput!) { targetsPlan(key: $key) { rows { assignee { user { id name } } targets goal { title } } } }`,
    { key: { year: new Date().getFullYear(), goalType: "DEALS_WON", measure: "VALUE", interval: "MONTHLY", currency: "EUR" } });
  const created = planGoal.data.targetsPlan.rows.find((r) => r.assignee.user?.id === planUser);
  if (!created?.goal || created.goal.title.includes(planUser) || !created.goal.title.includes(created.assignee.user.name)) {
    throw new Error(`plan goal for ${planUser} titled ${JSON.stringify(created?.goal?.title)}`);
  }
  if (!created.targets.every((t) => Number(t) === 50000)) throw new Error(`fill right did not fill: ${created.targets.join(", ")}`);
  step(`plan: one cell + Fill right saved ${created.targets.length} months of 50,000 for ${planUser}, goal titled "${created.goal.title}"`);

  // CSV: download the plan, upload it with a bad cell (refused, the error names its line), then with a good
  // change (the dry run says what would change; Apply changes the cell in the grid).
  const [csvDownload] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="csv-download"]').click()]);
  const csvFile = resolve(out, csvDownload.suggestedFilename());
  await csvDownload.saveAs(csvFile);
  const csvLines = readFileSync(csvFile, "utf8").trimEnd().split("\n");
  const userLine = csvLines.findIndex((l) => l.startsWith(`USER,${planUser},`));
  if (!csvLines[0].startsWith("kind,id,name,") || userLine < 1) throw new Error(`downloaded CSV without ${planUser}'s line: ${csvLines.slice(0, 3).join(" / ")}`);
  step(`CSV downloaded: ${csvDownload.suggestedFilename()}, ${csvLines.length} lines, ${planUser} on line ${userLine + 1}`);
  const withCell = (value) => csvLines.map((l, i) => {
    if (i !== userLine) return l;
    const cells = l.split(",");
    cells[4] = value;
    return cells.join(",");
  }).join("\n") + "\n";
  const upload = page.locator('[data-testid="csv-upload"]');
  await upload.setInputFiles({ name: "plan-bad.csv", mimeType: "text/csv", buffer: Buffer.from(withCell("lots")) });
  const csvErrors = page.locator('[data-testid="csv-errors"][role="alert"]');
  await csvErrors.waitFor();
  const errorText = (await csvErrors.innerText()).trim();
  const column = csvLines[0].split(",")[4];
  if (!errorText.includes(`Line ${userLine + 1}, ${column}: 'lots' is not a number`)) throw new Error(`CSV error not by line: ${errorText}`);
  step(`CSV with a bad cell refused (role=alert): "${errorText.split("\n").find((l) => l.startsWith("Line"))}"`);
  await upload.setInputFiles({ name: "plan-good.csv", mimeType: "text/csv", buffer: Buffer.from(withCell("60000")) });
  const preview = page.locator('[data-testid="csv-preview"][role="status"]');
  await preview.waitFor();
  const previewText = (await preview.innerText()).trim();
  if (!previewText.includes("1 target would change") || !/→ \D*60,000/.test(previewText)) throw new Error(`CSV dry run: ${previewText}`);
  step(`CSV dry run (role=status): "${previewText.split("\n").filter((l) => l.includes("→")).join("; ")}"`);
  await page.locator('[data-testid="csv-apply"]').click();
  const imported = page.locator('[data-testid="plan-message"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="plan-message"]')?.textContent?.startsWith("Imported"));
  await page.waitForFunction((user) => document.querySelectorAll(`[data-testid="plan-row"][data-key="USER:${user}"] [data-testid="plan-cell"]`)[1]?.value === "60,000", planUser);
  const mismatches = await page.locator('[data-testid="plan-sum"][data-key="TEAM:team-south"] td[data-mismatch="true"]').count();
  const mismatchWords = (await page.locator('[data-testid="plan-row"][data-key="TEAM:team-south"] [data-testid="plan-mismatch"]').innerText()).trim();
  step(`CSV applied: "${(await imported.innerText()).split("\n")[0]}"; ${planUser}'s second month shows 60,000; Team South: "${mismatchWords}" (${mismatches} periods marked "≠ target")`);
  await axe("the targets plan with a checked file");
  await shot("05b-plan-csv");

  // The leaderboard of the current period (ranks and sight are the server's).
  await page.goto(`${base}#/leaderboard`);
  await page.locator('[data-testid="leaderboard-row"]').first().waitFor();
  const rows = await page.locator('[data-testid="leaderboard-row"]').count();
  step(`leaderboard: ${rows} ranked rows, first "${(await page.locator('[data-testid="leaderboard-row"] th').first().innerText()).trim()}"`);
  await axe("the leaderboard");

  // 11. At a phone's width no screen scrolls sideways; the drill-down opens under its period.
  await page.setViewportSize({ width: 390, height: 844 });
  await noHorizontalOverflow("targets plan");
  await page.goto(`${base}#/goals`);
  await cards.first().waitFor();
  await noHorizontalOverflow("goals list");
  await shot("06-phone-goals");
  await cards.filter({ hasText: goalTitle }).first().click();
  await page.locator('[data-testid="period-chart"][data-ready="true"]').waitFor();
  await currentRow.click();
  await page.locator('tr.drill-row [data-testid="contributions"]').waitFor();
  await noHorizontalOverflow("goal with drill-down");
  await shot("07-phone-goal");
  await axe("a goal at 390 px, drill-down open");
  await page.goto(`${base}#/goals/new`);
  await form.waitFor();
  await noHorizontalOverflow("goal form");
  await page.setViewportSize({ width: 1440, height: 1000 });

  // 12. Copy last year's plan +10 % (an admin: the copy includes the company row).
  if (adminToken) {
    await signIn(adminToken);
    const year = new Date().getFullYear();
    const source = await gql(adminToken, `query($key: PlanKeyInput!) { targetsPlan(key: $key) { rows { assignee { kind } targets } } }`,
      { key: { year, goalType: "DEALS_WON", measure: "VALUE", interval: "MONTHLY", currency: "EUR" } });
    const companyTarget = Number(source.data.targetsPlan.rows.find((r) => r.assignee.kind === "COMPANY").targets[0]);
    await page.goto(`${base}#/plan`);
    await page.locator('[data-testid="targets-plan"]').waitFor();
    await page.locator('select[name="year"]').selectOption(String(year + 1));
    await page.locator(`[data-testid="copy-last-year"]:has-text("${year} into ${year + 1}")`).waitFor();
    await page.locator('[data-testid="copy-percent"]').fill("10");
    await page.locator('[data-testid="copy-last-year"]').click();
    const done = page.locator('[data-testid="plan-message"]');
    await done.waitFor();
    const text = (await done.innerText()).trim();
    if (!text.startsWith("Copied")) throw new Error(`copy refused: ${text}`);
    const expected = new Intl.NumberFormat("en-GB").format(companyTarget * 1.1);
    await page.locator(`[data-testid="plan-row"][data-assignee="COMPANY:"] [data-testid="plan-cell"] >> nth=0`).waitFor();
    await page.waitForFunction((want) => document.querySelector('[data-testid="plan-row"][data-assignee="COMPANY:"] [data-testid="plan-cell"]')?.value === want, expected);
    step(`copied ${year} into ${year + 1} +10 %: "${text}"; company's first month ${expected}`);
    await shot("08-plan-copied");
  } else {
    step("GOALGRAPH_ADMIN_TOKEN not set: copy last year not checked");
  }

  if (binaryFrames) step(`note: the server sent ${binaryFrames} binary WebSocket frames (graphql-transport-ws messages are text)`);
  if (consoleErrors.length) step(`browser console errors: ${consoleErrors.join(" | ")}`);
  console.log("E2E OK");
  await browser.close();
  process.exit(0);
} catch (error) {
  console.error(`E2E FAILED: ${error?.stack ?? error}`);
  if (consoleErrors.length) console.error(`browser console errors: ${consoleErrors.join(" | ")}`);
  try {
    await page.screenshot({ path: resolve(out, "failure.png"), fullPage: true });
    writeFileSync(resolve(out, "failure.html"), await page.content());
    console.error(`failure screenshot: ${resolve(out, "failure.png")}`);
  } catch {}
  await browser.close();
  process.exit(1);
}
