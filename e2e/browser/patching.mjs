// Patching in Debian's chromium: a device's pending updates (the security
// rule that matched, the reboot it needs and why), the fleet compliance
// page (its trend card, its CSV) and its software search, a hold added in its form and listed with
// its reason and who set it, a policy created in its form, and the
// device's plan then naming the hold. Screenshots go to OUT_DIR.
// Usage: node patching.mjs URL USERNAME PASSWORD OUT_DIR DEVICE_ID
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { walk } from "./run.mjs";

const [url, username, password, outDir, device] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const shot = (page, name) => page.screenshot({ path: `${outDir}/${name}.png` });
const text = (page, selector) => page.$eval(selector, (el) => el.textContent);
const expect = (what, haystack, needle) => {
  if (!haystack.includes(needle)) throw new Error(`${what}: expected "${needle}" in "${haystack}"`);
};

await walk(browser, "patching", outDir, async (step, errors) => {
  const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 860 } });
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(`console error: ${m.text()}`);
  });
  page.on("dialog", (d) => d.accept());

  step("sign in");
  await page.goto(url);
  await page.fill("#login input[name=username]", username);
  await page.fill("#login input[name=password]", password);
  await page.click("#login button");
  await page.waitForSelector("#stats a.stat[data-stat=online]");

  step("the device's pending updates: security by which rule, the reboot and why");
  await page.goto(`${url}#/device/${device}?tab=updates`);
  await page.waitForSelector("#device[data-ready=true]");
  const updates = await text(page, "#device table");
  expect("pending updates", updates, "stwd-demo");
  expect("pending updates", updates, "2.0-1");
  expect("the security rule", updates, "Debian-Security");
  const reboot = await text(page, "#reboot-state");
  expect("reboot state", reboot, "reboot required");
  expect("reboot reason", reboot, "asked by stwd-demo");
  expect("the plan", await text(page, "#patch-plan"), "No policy covers this device");
  await shot(page, "patching-device");

  step("the compliance page: figures, the device, the software search");
  await page.click("#nav a[data-page=patching]");
  await page.waitForSelector("#patch-figures");
  expect("needing a reboot", await text(page, "#patch-figures [data-figure=reboot] .figure"), "1");
  expect("the devices", await text(page, "#patch-devices"), "patch-web");
  await page.waitForSelector("#patch-figures [data-figure=trend]");
  const csv = await page.evaluate(async () => (await fetch(document.querySelector("#compliance-csv").href)).text());
  expect("the CSV", csv, "device_id,device_name,");
  expect("the CSV", csv, "patch-web");
  await page.fill("#software-search input[name=name]", "stwd-demo");
  await page.fill("#software-search input[name=below]", "1.5");
  await page.click("#software-search button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#software-result")?.textContent.includes("1 device(s) run stwd-demo below 1.5"));
  expect("software found", await text(page, "#software-result"), "1.0-1");
  await page.fill("#software-search input[name=below]", "1.0");
  await page.click("#software-search button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#software-result")?.textContent.includes("0 device(s)"));
  await shot(page, "patching");

  step("a hold added in its form, listed with its reason and who set it");
  await page.click("#patch-holds button[data-action=new-hold]");
  await page.fill("#hold-form input[name=package]", "stwd-demo");
  await page.fill("#hold-form input[name=version]", "2.0-1");
  await page.fill("#hold-form input[name=reason]", "breaks the demo app");
  await page.click("#hold-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#patch-holds table")?.textContent.includes("breaks the demo app"));
  const holds = await text(page, "#patch-holds table");
  expect("the hold", holds, "stwd-demo");
  expect("who set the hold", holds, username);
  await shot(page, "patching-hold");

  step("a policy created in its form");
  await page.click("#patch-policies button[data-action=new-policy]");
  await page.fill("#policy-form input[name=name]", "nightly security");
  await page.click("#policy-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#patch-policies table")?.textContent.includes("nightly security"));

  step("the device's plan names the hold and who set it");
  await page.goto(`${url}#/device/${device}?tab=updates`);
  await page.waitForSelector("#device[data-ready=true]");
  expect("the plan", await text(page, "#patch-plan"), "Policy nightly security");
  expect("the held update", await text(page, "#device table"), `held (2.0-1) by ${username}: breaks the demo app`);
  await shot(page, "patching-plan");
});
