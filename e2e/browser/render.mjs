// Render times of the console at fleet scale, in Debian's chromium: the
// devices page (first 50 of the fleet) and a device page charting 7 days.
// Each run is a fresh browser context (cold cache), signed in through the
// API, then one navigation. Prints JSON with the medians.
// Usage: node render.mjs URL USERNAME PASSWORD DEVICE_ID [RUNS]
import { chromium } from "playwright-core";

const [url, username, password, device, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Navigates a fresh signed-in context to `hash`; returns first contentful
// paint and the time until `ready` holds, both from navigation start.
async function measure(hash, ready) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 860 } });
  const signin = await context.request.post(url + "api/v1/login", { data: { username, password } });
  if (!signin.ok()) throw new Error(`sign-in failed: ${signin.status()}`);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url + hash);
  await page.waitForFunction(ready, null, { timeout: 30000 });
  const result = await page.evaluate(() => ({
    fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null,
    ready: performance.now(),
  }));
  await context.close();
  if (errors.length) throw new Error(errors.join("; "));
  return result;
}

const out = {};
try {
  for (const [name, hash, ready] of [
    ["devices_page", "#/devices", () => document.querySelectorAll("#device-list tr.device").length === 50],
    ["device_page_7d", `#/device/${device}?tab=health&range=7d`, () => document.querySelector("#charts[data-ready=true]") && document.querySelectorAll("#charts canvas").length >= 3],
  ]) {
    const samples = [];
    for (let i = 0; i < runs; i++) samples.push(await measure(hash, ready));
    out[name] = {
      first_contentful_paint_ms: Math.round(median(samples.map((s) => s.fcp))),
      ready_ms: Math.round(median(samples.map((s) => s.ready))),
      runs,
    };
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
