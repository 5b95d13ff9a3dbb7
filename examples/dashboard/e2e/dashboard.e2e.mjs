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
// subscription). Screenshots go to E2E_OUT (default e2e/out). Exit code 0 when every step passed.
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.DASHBOARD_URL ?? "http://127.0.0.1:8000/";
const token = process.env.GOALGRAPH_TOKEN;
const serviceToken = process.env.GOALGRAPH_SERVICE_TOKEN;
const goalTitle = process.env.GOAL_TITLE ?? "Won revenue";
const out = resolve(process.env.E2E_OUT ?? new URL("./out", import.meta.url).pathname);
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_TIMEOUT = Number(process.env.E2E_STEP_TIMEOUT_MS ?? 15000);

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
  await page.waitForTimeout(700); // let the progress bars finish their transition
  await shot("02-goals");

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
