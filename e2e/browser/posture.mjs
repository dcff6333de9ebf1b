// Walks the security posture in chromium: the fleet summary page (devices
// reporting, worst devices, most failed checks with their fix), a device's
// posture tab (score, failing items with how to fix each, all checks,
// listening ports) and its backups tab; the aging page (guard-1 flagged
// for its disk's rising counters) and its aging tab with the disks.
// Usage: node posture.mjs URL USERNAME PASSWORD SCREENSHOT_DIR
import { chromium } from "playwright-core";
import { walk } from "./run.mjs";

const [url, username, password, outDir] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
await walk(browser, "posture", outDir, async (step, errors) => {
  const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  step("sign in");
  await page.goto(url);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("#login button");
  await page.waitForSelector("#stats a.stat", { timeout: 15000 });

  step("the fleet posture page lists both devices, worst first");
  await page.click('nav a[data-page="posture"]');
  await page.waitForSelector("#posture-worst tbody tr", { timeout: 15000 });
  const reporting = await page.textContent("#posture-fleet");
  if (!reporting.includes("Devices reporting2")) throw new Error(`fleet figures: ${reporting}`);
  const rows = await page.$$eval("#posture-worst tbody tr", (trs) => trs.map((tr) => tr.textContent));
  if (rows.length !== 2) throw new Error(`worst devices: ${JSON.stringify(rows)}`);
  if (!rows.every((r) => r.includes("/ 100"))) throw new Error(`scores missing: ${JSON.stringify(rows)}`);
  const failed = await page.$$eval("#posture-failed tbody tr", (trs) => trs.map((tr) => tr.textContent));
  await page.screenshot({ path: `${outDir}/posture-fleet.png`, fullPage: true });

  step("a device's posture tab: score, failing items with their fix, checks, ports");
  await page.click("#posture-worst tbody tr a");
  await page.waitForSelector("#posture-score", { timeout: 15000 });
  const score = await page.textContent("#posture-score");
  if (!/Score: \d+(\.\d)? \/ 100/.test(score)) throw new Error(`score: ${score}`);
  const text = await page.textContent("#device");
  for (const heading of ["Failing", "All checks", "Listening ports", "Changes", "Unusual logins"]) {
    if (!text.includes(heading)) throw new Error(`no ${heading} on the posture tab`);
  }
  if (!text.includes("SSH refuses root logins") && !text.includes("time")) throw new Error("checks not listed");
  if (failed.length && !text.includes("How to fix")) throw new Error("failing items without a fix");
  await page.screenshot({ path: `${outDir}/posture-device.png`, fullPage: true });

  step("the same device's backups tab");
  await page.click('button[data-tab="backups"]');
  await page.waitForSelector("#device h2", { timeout: 15000 });
  const backups = await page.textContent("#device");
  if (!backups.includes("Backup jobs")) throw new Error(`backups tab: ${backups.slice(0, 200)}`);
  await page.screenshot({ path: `${outDir}/posture-backups.png`, fullPage: true });

  step("the aging page flags guard-1 with its disk's rising counters");
  await page.click('nav a[data-page="aging"]');
  await page.waitForSelector("#aging-flagged tbody tr", { timeout: 15000 });
  const counts = await page.textContent("#aging-counts");
  if (!counts.includes("Devices judged2")) throw new Error(`aging figures: ${counts}`);
  const flagged = await page.$$eval("#aging-flagged tbody tr", (trs) => trs.map((tr) => tr.textContent));
  const guard = flagged.find((r) => r.includes("guard-1"));
  if (!guard || !guard.includes("critical") || !guard.includes("reallocated sectors rose from 8 to 24")) {
    throw new Error(`flagged devices: ${JSON.stringify(flagged)}`);
  }
  await page.screenshot({ path: `${outDir}/aging-fleet.png`, fullPage: true });

  step("guard-1's aging tab: the finding and both disks with their counters");
  await page.click(`#aging-flagged tbody tr a:text-is("guard-1")`);
  await page.waitForSelector("#aging-worst", { timeout: 15000 });
  const aging = await page.textContent("#device");
  for (const part of ["aging.smart", "/dev/sda", "WDC WD40EFRX-68N32N0", "/dev/nvme0", "reallocated_sectors 8→24", "Release"]) {
    if (!aging.includes(part)) throw new Error(`no ${part} on the aging tab: ${aging.slice(0, 400)}`);
  }
  await page.screenshot({ path: `${outDir}/aging-device.png`, fullPage: true });
});
