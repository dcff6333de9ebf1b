// The device's health charts draw the anomaly detector's expected range
// (a shaded band) and the forecast's projection with its band: signs in,
// opens the device's health tab over 6 hours, and checks the CPU and
// filesystem charts carry both (legend entries, counts the page records,
// the sentence under the chart).
// Usage: node intel.mjs URL USERNAME PASSWORD SCREENSHOT_DIR DEVICE_ID
import { chromium } from "playwright-core";
import { walk } from "./run.mjs";

const [url, username, password, outDir, device] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
await walk(browser, "intel", outDir, async (step, errors) => {
  const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1000 } });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  step("sign in");
  await page.goto(url);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("#login button");
  await page.waitForSelector("#stats a.stat", { timeout: 15000 });
  step("the device's health over 6 hours");
  await page.goto(`${url}#/device/${device}?tab=health&range=6h`);
  await page.waitForSelector("#charts[data-ready=true]", { timeout: 20000 });
  for (const chart of ["CPU", "Filesystems"]) {
    const box = page.locator(`#charts .chart[data-chart="${chart}"]`);
    const bands = Number(await box.getAttribute("data-bands"));
    const projection = Number(await box.getAttribute("data-projection"));
    if (!(bands > 0)) throw new Error(`${chart}: no anomaly band points (${bands})`);
    if (!(projection > 0)) throw new Error(`${chart}: no projection points (${projection})`);
    const legend = await box.locator(".u-legend").innerText();
    for (const label of ["Expected low", "Expected high", "Projection", "Projection low", "Projection high"]) {
      if (!legend.includes(label)) throw new Error(`${chart}: no "${label}" in the legend: ${legend}`);
    }
    if ((await box.locator("canvas").count()) < 1) throw new Error(`${chart}: no chart drawn`);
    step(`${chart}: ${bands} band points, ${projection} projected`);
  }
  const said = await page.locator('#charts .chart[data-chart="Filesystems"] [data-insight]').innerText();
  if (!/Reaches 90% in about/.test(said)) throw new Error(`the filesystem chart says ${said}`);
  const cpu = await page.locator('#charts .chart[data-chart="CPU"] [data-insight]').innerText();
  if (!/anomal/.test(cpu)) throw new Error(`the CPU chart names no anomaly: ${cpu}`);
  step(`filesystem: ${said}; CPU: ${cpu}`);
  await page.screenshot({ path: `${outDir}/intel-charts.png`, fullPage: true });
});
