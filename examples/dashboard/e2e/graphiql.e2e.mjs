// GraphiQL at /graphql renders in headless Chromium with no network beyond the server:
// every request to another origin is aborted and reported, and the editor must appear.
//
//   GRAPHIQL_URL=http://127.0.0.1:8000/graphql node e2e/graphiql.e2e.mjs
import { chromium } from "playwright-core";

const url = process.env.GRAPHIQL_URL ?? "http://127.0.0.1:8000/graphql";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const origin = new URL(url).origin;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const external = [];
const errors = [];
try {
  const page = await browser.newPage();
  await page.route("**/*", (route) => {
    const target = route.request().url();
    if (target.startsWith(origin) || target.startsWith("data:")) return route.continue();
    external.push(target);
    return route.abort();
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-container .graphiql-query-editor", { timeout: 20000 });
  const text = await page.locator(".graphiql-query-editor").innerText();
  if (!text.includes("goalgraph")) throw new Error(`the query editor does not show goalgraph's example: ${text.slice(0, 200)}`);
  if (external.length) throw new Error(`requests beyond the server: ${external.join(", ")}`);
  if (errors.length) throw new Error(`page errors: ${errors.join(" | ")}`);
  console.log("GRAPHIQL OK: rendered from the server alone");
} finally {
  await browser.close();
}
