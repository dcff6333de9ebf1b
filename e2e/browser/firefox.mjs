// The console in Firefox (Debian's firefox-esr, driven over WebDriver BiDi
// by puppeteer-core): sign in, the dashboard, the device list and search,
// a device's charts, the alerts page, a script run on every device with its
// output arriving live, the xterm terminal, dark mode, sign out. The same
// path as console.mjs, in the other engine. Screenshots go to OUT_DIR with
// a "firefox-" prefix.
// Usage: node firefox.mjs URL USERNAME PASSWORD OUT_DIR DEVICE_COUNT
import puppeteer from "puppeteer-core";
import { mkdirSync } from "node:fs";
import { walk } from "./run.mjs";

const [url, username, password, outDir, deviceCount] = process.argv.slice(2);
const devices = Number(deviceCount);
mkdirSync(outDir, { recursive: true });
const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
  headless: true,
  acceptInsecureCerts: true,
  // A profile of its own, no updates, no telemetry: nothing but the test.
  extraPrefsFirefox: { "app.update.enabled": false, "datareporting.policy.dataSubmissionEnabled": false },
});
const shot = (page, name) => page.screenshot({ path: `${outDir}/firefox-${name}.png` });
const count = (page, selector) => page.$$eval(selector, (els) => els.length);
await walk(browser, "firefox", outDir, async (step, errors) => {
  const page = await browser.newPage();
  await page.setViewport({ width: 1366, height: 860 });
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("dialog", (d) => d.accept());

  step("sign in");
  await page.goto(url);
  await page.waitForSelector("#login input[name=username]");
  await page.type("#login input[name=username]", username);
  await page.type("#login input[name=password]", "wrong password!");
  await page.click("#login button");
  await page.waitForSelector("#login-error:not([hidden])");
  await page.$eval("#login input[name=password]", (e) => { e.value = ""; });
  await page.type("#login input[name=password]", password);
  await page.click("#login button");

  step("dashboard");
  await page.waitForFunction(
    (n) => document.querySelector("#stats a.stat[data-stat=online] .figure")?.textContent === String(n),
    {},
    devices,
  );
  const sparks = await count(page, "#stats a.stat svg.spark polyline");
  if (sparks < 6) throw new Error(`expected a trend line on every card, saw ${sparks}`);
  await shot(page, "dashboard");

  step("devices list and search");
  await page.click("#stats a.stat[data-stat=online]");
  await page.waitForFunction((n) => document.querySelectorAll("#device-list tr.device").length === n, {}, devices);
  await page.type("#main input[name=q]", "ff-beta");
  await page.waitForFunction(() => document.querySelectorAll("#device-list tr.device").length === 1);
  await page.$eval("#main input[name=q]", (e) => { e.value = ""; e.dispatchEvent(new Event("input", { bubbles: true })); });
  await page.waitForFunction((n) => document.querySelectorAll("#device-list tr.device").length === n, {}, devices);

  step("device page with charts");
  const href = await page.$eval("#device-list a.device-name", (a) => a.href);
  await page.goto(href.split("?")[0] + "?tab=health&range=1h");
  await page.waitForSelector("#charts[data-ready=true]");
  const canvases = await count(page, "#charts canvas");
  if (canvases < 3) throw new Error(`expected CPU, memory, filesystem and network charts, saw ${canvases} canvases`);
  await shot(page, "device");
  const deviceUrl = href.split("?")[0];

  step("acknowledge an alert");
  await page.goto(url + "#/alerts");
  await page.waitForSelector("#alerts tr.alert");
  const open = await count(page, "#alerts tr.alert");
  await page.click("#alerts tr.alert button[data-action=acknowledge]");
  await page.waitForFunction((n) => document.querySelectorAll("#alerts tr.alert").length === n - 1, {}, open);
  await page.click(".tabs button[data-tab=acknowledged]");
  await page.waitForSelector("#alerts tr.alert");
  await page.click("#alerts tr.alert td:nth-child(3)");
  await page.waitForFunction(() => [...document.querySelectorAll("#alert-detail .events li")].some((li) => li.textContent.includes("acknowledged")));
  await shot(page, "alerts");

  step("a monitor from its form");
  await page.goto(url + "#/monitors");
  await page.waitForSelector("#main .head button.primary");
  await page.click("#main .head button.primary");
  await page.waitForSelector("dialog input[name=name]");
  const set = (name, value) => page.$eval(`dialog [name=${name}]`, (e, v) => { e.value = v; e.dispatchEvent(new Event("change", { bubbles: true })); }, value);
  await page.type("dialog input[name=name]", "ff memory");
  await set("metric", "system.memory.utilization");
  await set("warning", "");
  await set("warning_clear", "");
  await set("critical", "97");
  await set("critical_clear", "");
  await page.click("dialog button[type=submit]");
  await page.waitForFunction(() => [...document.querySelectorAll("#main td")].some((td) => td.textContent === "system.memory.utilization: critical ≥ 97 % for 5 min"));

  step("run a script on every device and watch the output");
  await page.goto(url + "#/devices");
  await page.waitForFunction((n) => document.querySelectorAll("#device-list tr.device").length === n, {}, devices);
  await page.click("#device-list th input[type=checkbox]");
  await page.waitForSelector(".bulk button");
  const buttons = await page.$$(".bulk button");
  let run = null;
  for (const b of buttons) if ((await b.evaluate((e) => e.textContent)).startsWith("Run script")) run = b;
  if (!run) throw new Error("no Run script button in the bulk bar");
  await run.click();
  await page.waitForSelector("dialog select[name=script]");
  await page.select("dialog select[name=script]", "ff-hello");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("#runs .run");
  await page.waitForFunction(() => [...document.querySelectorAll("#runs .run[data-status=running] pre.stdout")].some((p) => p.textContent.includes("start")));
  await page.waitForFunction(
    (n) => {
      const runs = [...document.querySelectorAll("#runs .run")];
      return runs.length === n && runs.every((r) => r.dataset.status === "succeeded" && r.querySelector("pre.stdout")?.textContent.includes("steward-ff-42"));
    },
    { timeout: 30000 },
    devices,
  );
  await shot(page, "job");

  step("remote terminal");
  await page.goto(deviceUrl + "?tab=terminal");
  await page.waitForFunction(() => document.getElementById("terminal-state")?.textContent.includes("Connected"));
  await page.click("#terminal");
  await page.keyboard.type("echo steward-$((6*7))");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("terminal").terminalText().split("\n").some((l) => l.trim() === "steward-42"));
  await shot(page, "terminal");

  step("dark mode");
  await page.goto(url + "#/");
  await page.waitForSelector("#stats a.stat");
  await page.click("#theme");
  await page.click("#theme");
  const theme = await page.$eval("html", (e) => e.dataset.theme);
  if (theme !== "dark") throw new Error(`the theme button did not switch to dark (${theme})`);
  await shot(page, "dashboard-dark");

  step("sign out");
  await page.click("#signout");
  await page.waitForSelector("#signin:not([hidden])");
});
