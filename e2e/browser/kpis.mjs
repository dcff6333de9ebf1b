// Walks the console's KPI page in chromium over a seeded history: the
// organisation's figures for the period (the same as the report's, each
// with its definition beside it), each KPI's trend over the period's
// weeks, "not collected" where a feature has no data, and one site's
// figures.
// Usage: node kpis.mjs URL USERNAME PASSWORD SCREENSHOT_DIR PERIOD
import { chromium } from "playwright-core";
import { walk } from "./run.mjs";

const [url, username, password, outDir, period] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
await walk(browser, "kpis", outDir, async (step, errors) => {
  const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1000 } });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  const cell = (key) => page.textContent(`[data-kpi="${key}"]`);
  const expect = async (key, wanted) => {
    const text = (await cell(key)).trim();
    if (!text.includes(wanted)) throw new Error(`${key}: ${JSON.stringify(text)}, expected ${JSON.stringify(wanted)}`);
  };
  // Picks a value of a filter and waits for the page drawn with it.
  const choose = async (name, value, shown) => {
    await page.selectOption(`select[name=${name}]`, value);
    await page.waitForFunction((t) => document.querySelector("#kpi-period")?.textContent.includes(t), shown, { timeout: 15000 });
  };

  step("sign in");
  await page.goto(url);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("#login button");
  await page.waitForSelector("#stats a.stat", { timeout: 15000 });

  step("the KPI page is found by its name in the navigation");
  await page.click('nav a:text-is("KPIs")');
  await page.waitForSelector("#kpi-table tbody tr", { timeout: 15000 });
  const heading = await page.textContent("#main h1");
  if (heading !== "KPIs") throw new Error(`heading: ${heading}`);

  step(`the seeded period ${period}: the organisation's figures`);
  await choose("period", period, period);
  await expect("availability", "99.750 %");
  await expect("mtta", "median 4.0 min, p90 6.0 min, mean 4.0 min (n = 3)");
  await expect("mttr", "median 60.0 min, p90 90.0 min, mean 60.0 min (n = 3)");
  await expect("incident_volume", "3 opened, 0 still open at the end");
  await expect("open_problems", "0");
  await expect("backup_success", "not collected");
  await expect("patch_compliance", "not collected");

  step("each KPI has its definition beside it and a trend over the weeks");
  const rows = await page.$$eval("#kpi-table tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())));
  if (rows.length < 8) throw new Error(`KPI rows: ${JSON.stringify(rows)}`);
  for (const [name, , , definition] of rows) {
    if (!definition || definition.length < 40) throw new Error(`${name} has no definition: ${JSON.stringify(definition)}`);
  }
  const volume = await page.textContent('[data-series="incident_volume"]');
  const weeks = volume.split(" · ");
  if (weeks.length !== 5 && weeks.length !== 4) throw new Error(`weekly incident trend: ${volume}`);
  if (!weeks[0].endsWith(": 3") || !weeks.slice(1).every((w) => w.endsWith(": 0"))) throw new Error(`weekly incident trend: ${volume}`);
  const availability = await page.textContent('[data-series="availability"]');
  if (!availability.includes("%")) throw new Error(`availability trend: ${availability}`);
  if ((await page.$$("#kpi-table svg.spark polyline")).length < 4) throw new Error("no sparklines drawn");

  step("the page shows the same figures as the report");
  const report = await page.evaluate(async (p) => (await fetch(`/api/v1/reports?period=${p}`)).json(), period);
  for (const k of report.kpis) {
    const text = (await cell(k.key)).trim();
    const wanted = k.value || "no data";
    if (text !== wanted) throw new Error(`${k.key}: page ${JSON.stringify(text)}, report ${JSON.stringify(wanted)}`);
  }
  const pdf = await page.getAttribute('#kpi-period a[href*="format=pdf"]', "href");
  if (!pdf.includes(`period=${period}`)) throw new Error(`PDF link: ${pdf}`);
  await page.screenshot({ path: `${outDir}/kpis.png`, fullPage: true });

  step("one site: its device's downtime, its incidents");
  await choose("site", "hq", "site hq");
  await expect("availability", "99.500 %");
  await expect("incident_volume", "3 opened");
  await page.screenshot({ path: `${outDir}/kpis-site.png`, fullPage: true });
  await choose("site", "branch", "site branch");
  await expect("availability", "100.000 %");
  await expect("incident_volume", "0 opened");
  await expect("mtta", "no data");
});
