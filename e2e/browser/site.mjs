// A technician limited to one site, in Debian's chromium: the navigation
// holds what they can use; the organisation's monitors and channels show
// read-only with who may change them; the users page and the audit log
// explain the permission they need. Then an administrator filters the
// audit log and reads it as sentences, at 1280 px without sideways
// scrolling. Screenshots go to OUT_DIR.
// Usage: node site.mjs URL TECH PASSWORD ADMIN ADMIN_PASSWORD OUT_DIR
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { walk } from "./run.mjs";

const [url, tech, techPassword, admin, adminPassword, outDir] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const shot = (page, name) => page.screenshot({ path: `${outDir}/${name}.png`, fullPage: true });

// No sideways scrolling: the page is no wider than the window.
async function fits(page, what) {
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  if (scroll > client) throw new Error(`${what} is ${scroll} px wide in a ${client} px window`);
}

async function signIn(page, username, password) {
  await page.goto(url);
  await page.fill("#login input[name=username]", username);
  await page.fill("#login input[name=password]", password);
  await page.click("#login button");
  await page.waitForSelector("#stats a.stat[data-stat=online]");
}

const texts = (page, selector) => page.$$eval(selector, (els) => els.map((e) => e.textContent));

await walk(browser, "site", outDir, async (step, errors) => {
  const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(`console error: ${m.text()}`);
  });
  page.on("dialog", (d) => d.accept());

  step("the site technician signs in: the navigation holds what they can use");
  await signIn(page, tech, techPassword);
  const shown = await page.$$eval("#nav a[data-page]", (els) => els.filter((a) => !a.hidden).map((a) => a.dataset.page));
  for (const page of ["dashboard", "devices", "alerts", "monitors", "channels", "users"]) {
    if (!shown.includes(page)) throw new Error(`no ${page} in the navigation: ${shown}`);
  }
  for (const page of ["organisations", "audit"]) {
    if (shown.includes(page)) throw new Error(`${page} is offered to a site technician: ${shown}`);
  }

  step("their devices");
  await page.goto(url + "#/devices");
  await page.waitForFunction(() => document.querySelectorAll("#device-list tr.device").length === 2);
  await fits(page, "the devices page");
  await shot(page, "site-devices");

  step("the organisation's monitor, read-only, with who may change it");
  await page.goto(url + "#/monitors");
  const uptime = "#main tr:has(td:text-is('uptime'))";
  await page.waitForSelector(`${uptime} .pill.read-only`);
  if (await page.$(`${uptime} button[data-action=edit]`)) throw new Error("the site technician is offered to edit an organisation-wide monitor");
  if (await page.$("button:has-text('New monitor')")) throw new Error("the site technician is offered a new monitor");
  const note = await page.textContent("#scope-note");
  if (!/only\..*read-only.*monitors\.manage for all of/.test(note)) throw new Error(`unexpected note: ${note}`);
  await fits(page, "the monitors page");
  await shot(page, "site-monitors");

  step("the organisation's channel, read-only, without where it sends");
  await page.goto(url + "#/channels");
  const pager = "#main tr:has(td:text-is('pager'))";
  await page.waitForSelector(`${pager} .pill.read-only`);
  if (await page.$(`${pager} button[data-test]`)) throw new Error("the site technician is offered to test a channel");
  if ((await page.textContent("#main")).includes("hooks.example.com")) throw new Error("the channel's address is shown");
  await shot(page, "site-channels");

  step("alerts of their devices");
  await page.goto(url + "#/alerts");
  await page.waitForSelector("#alerts tr.alert");
  await fits(page, "the alerts page");
  await shot(page, "site-alerts");

  step("users: their tokens, and a sentence instead of the list of users");
  await page.goto(url + "#/users");
  const needs = await page.waitForSelector("[data-needs='users.manage']");
  const said = await needs.textContent();
  if (!/^Managing users needs the users\.manage permission; ask an administrator of \S+\.$/.test(said)) throw new Error(`unexpected sentence: ${said}`);
  if (await page.$("button:has-text('New user')")) throw new Error("the site technician is offered a new user");
  await page.waitForSelector("h2:has-text('Your API tokens')");
  if ((await page.textContent("#main")).includes("missing permission")) throw new Error("the server's refusal is shown raw");
  await shot(page, "site-users");

  step("the audit log, followed by its address: a sentence");
  await page.goto(url + "#/audit");
  const audit = await page.waitForSelector("[data-needs='audit.view']");
  if (!(await audit.textContent()).startsWith("Reading the audit log needs the audit.view permission")) throw new Error("no sentence for the audit log");
  await shot(page, "site-audit");
  await page.click("#signout");
  await page.waitForSelector("#signin:not([hidden])");

  step("the administrator filters the audit log by what: remote shells");
  await signIn(page, admin, adminPassword);
  await page.goto(url + "#/audit");
  await page.waitForSelector("#audit-log .audit-entry");
  await fits(page, "the audit log");
  const all = await texts(page, "#audit-log .audit-entry .sentence");
  if (!all.some((s) => /^admin renamed the site branch-7 to branch-8$/.test(s))) throw new Error(`no site rename sentence: ${all}`);
  await shot(page, "audit");
  await page.fill("#audit-filter input[name=action]", "shell");
  await page.click("#audit-filter button[type=submit]");
  await page.waitForFunction(() => location.hash.includes("action=shell"));
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#audit-log .audit-entry")];
    return rows.length > 0 && rows.every((r) => r.dataset.action.startsWith("shell."));
  });
  const shells = await texts(page, "#audit-log .audit-entry .sentence");
  if (!shells.some((s) => /^admin opened a remote shell on e2e-/.test(s))) throw new Error(`no opened shell: ${shells}`);
  if (!shells.some((s) => /^admin's remote shell on e2e-\S+ closed after .* typed, .* shown$/.test(s))) throw new Error(`no closed shell: ${shells}`);
  await fits(page, "the filtered audit log");
  await shot(page, "audit-shells");

  step("by object and who: the upload as a sentence");
  await page.goto(url + "#/audit");
  await page.waitForSelector("#audit-log .audit-entry");
  await page.fill("#audit-filter input[name=actor]", admin);
  await page.fill("#audit-filter input[name=object]", "app.conf");
  await page.click("#audit-filter button[type=submit]");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#audit-log .audit-entry .sentence")];
    return rows.length === 1 && rows[0].textContent.includes("uploaded");
  });
  const upload = (await texts(page, "#audit-log .audit-entry .sentence"))[0];
  if (!/^admin uploaded \/\S+\/app\.conf \(12\.0 KiB\) to e2e-alpha$/.test(upload)) throw new Error(`unexpected upload sentence: ${upload}`);
  await page.click("#audit-log details summary");
  await fits(page, "the audit log with details open");
  await shot(page, "audit-upload");

  step("by who and when: the technician's sign-in, nothing in the future");
  await page.goto(url + `#/audit?actor=${tech}`);
  await page.waitForFunction((who) => [...document.querySelectorAll("#audit-log .audit-entry .sentence")].some((s) => s.textContent === `${who} signed in`), tech);
  await page.fill("#audit-filter input[name=since]", "2999-01-01T00:00");
  await page.click("#audit-filter button[type=submit]");
  await page.waitForSelector("#audit-log td.empty:has-text('Nothing recorded matches these filters.')");
  await page.click("#audit-filter button:has-text('Clear filters')");
  await page.waitForFunction(() => location.hash === "#/audit");
  await page.waitForSelector("#audit-log .audit-entry");
});
