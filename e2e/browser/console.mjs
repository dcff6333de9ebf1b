// The console end to end, in Debian's chromium: sign in, see the agents
// online, open a device and its charts, acknowledge an alert, write a script
// and run it on two devices watching the output arrive, type in the remote
// terminal, create an enrollment token. Screenshots go to OUT_DIR.
// Usage: node console.mjs URL USERNAME PASSWORD OUT_DIR
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { walk } from "./run.mjs";

const [url, username, password, outDir] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const shot = (page, name) => page.screenshot({ path: `${outDir}/${name}.png` });
await walk(browser, "console", outDir, async (step, errors) => {
  const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 860 } });
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  // What the browser reports as wrong with the page (an invalid pattern
  // attribute, say); refused requests are the walk's own doing.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(`console error: ${m.text()}`);
  });
  page.on("dialog", (d) => d.accept());

  step("sign in");
  await page.goto(url);
  await page.fill("#login input[name=username]", username);
  await page.fill("#login input[name=password]", "wrong password!");
  await page.click("#login button");
  await page.waitForSelector("#login-error:not([hidden])");
  await page.fill("#login input[name=password]", password);
  await page.click("#login button");
  await page.waitForSelector("#stats a.stat[data-stat=online]");

  step("dashboard shows both agents online and the alerts");
  await page.waitForFunction(() => document.querySelector("#stats a.stat[data-stat=online] .figure")?.textContent === "2");
  await page.waitForFunction(() => Number(document.querySelector("#stats a.stat[data-stat=alerts_critical] .figure")?.textContent) >= 2);
  await page.waitForSelector("#stats a.stat[data-stat=missing_updates]");
  await shot(page, "dashboard");

  step("devices list");
  await page.click("#stats a.stat[data-stat=online]");
  await page.waitForFunction(() => document.querySelectorAll("#device-list tr.device").length === 2);
  const statuses = await page.$$eval("#device-list tr.device .pill", (els) => els.map((e) => e.textContent).filter((t) => t === "online"));
  if (statuses.length !== 2) throw new Error(`expected 2 online devices, saw ${statuses}`);
  await page.fill("#main input[name=q]", "e2e-beta");
  await page.waitForFunction(() => document.querySelectorAll("#device-list tr.device").length === 1);
  await page.fill("#main input[name=q]", "");
  await page.waitForFunction(() => document.querySelectorAll("#device-list tr.device").length === 2);
  await shot(page, "devices");

  step("device page with charts");
  await page.click("#device-list a.device-name >> nth=0");
  await page.waitForSelector("#device-name");
  const deviceUrl = page.url().split("?")[0];
  await page.goto(deviceUrl + "?tab=health&range=1h");
  await page.waitForSelector("#charts[data-ready=true]");
  const canvases = await page.$$eval("#charts canvas", (els) => els.length);
  if (canvases < 3) throw new Error(`expected CPU, memory, filesystem and network charts, saw ${canvases} canvases`);
  await shot(page, "device");
  await page.click(".tabs button[data-tab=software]");
  await page.waitForSelector("#device h2 >> text=Pending updates");
  await page.waitForSelector("#device h2 >> text=Installed packages");

  step("backups: the device's tab and the fleet's success rates");
  await page.click(".tabs button[data-tab=backups]");
  await page.waitForSelector("#device h2 >> text=Backup jobs");
  await page.waitForSelector("#device >> text=No backup job is configured");
  await page.goto(url + "#/backups");
  await page.waitForSelector("#backup-devices h2 >> text=Devices");
  await shot(page, "backups");

  step("acknowledge an alert");
  await page.goto(url + "#/alerts");
  await page.waitForSelector("#alerts tr.alert");
  const openBefore = await page.$$eval("#alerts tr.alert", (els) => els.length);
  await page.click("#alerts tr.alert >> nth=0 >> button[data-action=acknowledge]");
  await page.waitForSelector(".toast >> text=Acknowledged");
  await page.waitForFunction((n) => document.querySelectorAll("#alerts tr.alert").length === n - 1, openBefore);
  await page.click(".tabs button[data-tab=acknowledged]");
  await page.waitForSelector("#alerts tr.alert");
  await page.click("#alerts tr.alert >> nth=0 >> td >> nth=2");
  await page.waitForSelector("#alert-detail .events li >> text=acknowledged");
  await shot(page, "alerts");

  step("a runbook in Markdown: written in its form, shown as elements, its markup as text");
  await page.goto(url + "#/runbooks");
  await page.click("button[data-action=new-runbook]");
  await page.fill("dialog input[name=title]", "Uptime alert");
  await page.fill("dialog textarea[name=body]", "# Steps\n1. Run **e2e-fix**\n2. Read <b>the logs</b> and <img src=x onerror=alert(1)>");
  await page.fill("dialog input[name=alert_kinds]", "threshold");
  await page.fill("dialog input[name=offers]", "e2e-fix");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("#runbook .markdown strong >> text=e2e-fix");
  if (await page.$("#runbook .markdown b, #runbook .markdown img")) throw new Error("runbook markup became elements");
  await page.waitForSelector("#runbook .markdown >> text=<b>the logs</b>");
  await shot(page, "runbook");

  step("incidents: the critical alerts opened them; one noted, acknowledged and resolved");
  await page.goto(url + "#/incidents");
  await page.waitForSelector("#kpis [data-kpi=incident_volume]");
  await page.waitForSelector("#kpi-trends [data-trend=incident_volume] svg.spark");
  await page.waitForSelector("#report-downloads a >> text=PDF");
  await page.waitForSelector("#incidents tbody tr.clickable");
  await page.click("#incidents tbody tr.clickable >> nth=0 >> td >> nth=1");
  await page.waitForSelector("#incident td >> text=alerting");
  await page.fill("#note-form textarea", "looked at it from the console");
  await page.click("#note-form button[type=submit]");
  await page.waitForSelector("#incident td >> text=looked at it from the console");
  await page.waitForSelector("#incident-runbooks .markdown strong >> text=e2e-fix");
  await page.click("#incident-runbooks button[data-action=run-script]");
  await page.waitForSelector("#incident td >> text=/ran e2e-fix from runbook/");
  if (await page.$("#incident button[data-action=acknowledge]")) {
    await page.click("#incident button[data-action=acknowledge]");
    await page.waitForSelector("#incident td >> text=open → acknowledged");
  }
  await page.click("#incident button[data-action=resolve]");
  await page.waitForSelector("#incident button[data-action=reopen]");
  await shot(page, "incident");
  await page.goto(url + "#/alerts");
  await page.waitForSelector("#alerts");

  step("a weekly maintenance window in a time zone");
  await page.click("button >> text=Maintenance window…");
  await page.fill("dialog input[name=name]", "patch night");
  await page.fill("dialog input[name=os]", "debian");
  await page.selectOption("dialog select[name=repeats]", "weekly");
  if (await page.isVisible("dialog input[name=start]")) throw new Error("a weekly window still shows its one-off start");
  await page.fill("dialog input[name=days]", "Sun");
  await page.fill("dialog input[name=at]", "02:00");
  await page.fill("dialog input[name=for]", "3h");
  await page.fill("dialog input[name=timezone]", "Europe/Berlin");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector(".toast >> text=/[Ss]aved/");
  await page.click(".tabs button[data-tab=maintenance]");
  await page.waitForSelector("td >> text=weekly Sun at 02:00 (Europe/Berlin) for 3h");
  await shot(page, "maintenance");

  step("a monitor from its form, and the server's error in the form");
  await page.goto(url + "#/monitors");
  await page.click("button >> text=New monitor");
  await page.fill("dialog input[name=name]", "e2e cpu");
  await page.fill("dialog input[name=metric]", "system.cpu.utilization");
  for (const name of ["warning", "warning_clear", "critical_clear"]) await page.fill(`dialog input[name=${name}]`, "");
  await page.fill("dialog input[name=critical]", "99.5");
  await page.fill("dialog input[name=for_minutes]", "10");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("td:has-text('system.cpu.utilization: critical ≥ 99.5 % for 10 min')");

  step("edit, disable, enable and delete the monitor");
  const row = "#main tr:has(td:text-is('e2e cpu'))";
  await page.click(`${row} button[data-action=edit]`);
  await page.waitForFunction(() => document.querySelector("dialog input[name=critical]")?.value === "99.5");
  await page.fill("dialog input[name=critical]", "98");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("td:has-text('system.cpu.utilization: critical ≥ 98 % for 10 min')");
  await page.click(`${row} button[data-action=disable]`);
  await page.waitForSelector(`${row}.disabled button[data-action=enable]`);
  await page.click(`${row} button[data-action=enable]`);
  await page.waitForSelector(`${row}:not(.disabled) button[data-action=disable]`);
  await page.click(`${row} button[data-action=delete]`);
  await page.waitForSelector(".toast >> text=Deleted the monitor e2e cpu");
  await page.waitForFunction(() => ![...document.querySelectorAll("td")].some((td) => td.textContent === "e2e cpu"));
  await page.click("button >> text=New monitor");
  await page.fill("dialog input[name=name]", "e2e inverted");
  await page.fill("dialog input[name=warning]", "99");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("dialog .form-error:has-text('milder than the critical level')");
  await page.keyboard.press("Escape");

  step("write a script and run it on two devices");
  await page.goto(url + "#/scripts");
  await page.click("button >> text=New script");
  await page.fill("dialog input[name=name]", "e2e-hello");
  await page.fill("dialog textarea[name=body]", "echo start\nsleep 6\necho steward-e2e-$((6*7))\n");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("td >> text=e2e-hello");
  step("edit the script in place: saved as its next version");
  await page.click("tr:has-text('e2e-hello') button[data-action=edit]");
  await page.fill("dialog input[name=description]", "says hello");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("tr:has-text('e2e-hello') td >> text=v2");
  await page.goto(url + "#/devices");
  await page.waitForFunction(() => document.querySelectorAll("#device-list tr.device").length === 2);
  await page.check("#device-list th input[type=checkbox]");
  await page.click(".bulk button >> text=Run script…");
  await page.selectOption("dialog select[name=script]", "e2e-hello");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("#runs .run");
  // The output arrives while the runs are still running...
  await page.waitForFunction(() => [...document.querySelectorAll("#runs .run[data-status=running] pre.stdout")].some((p) => p.textContent.includes("start")));
  await shot(page, "job-running");
  // ...and both finish with their whole output.
  await page.waitForFunction(() => {
    const runs = [...document.querySelectorAll("#runs .run")];
    return runs.length === 2 && runs.every((r) => r.dataset.status === "succeeded" && r.querySelector("pre.stdout")?.textContent.includes("steward-e2e-42"));
  }, null, { timeout: 30000 });
  await shot(page, "job");

  step("remote terminal");
  await page.goto(deviceUrl + "?tab=terminal");
  await page.waitForSelector("#terminal-state >> text=Connected");
  await page.click("#terminal");
  await page.keyboard.type("echo steward-$((6*7))");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("terminal").terminalText().split("\n").some((l) => l.trim() === "steward-42"));
  await shot(page, "terminal");

  step("enrollment token and install command");
  await page.goto(url + "#/enrollment");
  await page.fill("input[name=site]", "branch-7");
  await page.click("button >> text=Create token");
  await page.waitForSelector("#install-command");
  const command = await page.textContent("#install-command");
  if (!/steward-agent .*enroll STW1\./.test(command)) throw new Error(`unexpected install command: ${command}`);
  await page.waitForSelector("td >> text=branch-7");
  // The agent beside the server, offered with the digest to check.
  await page.waitForSelector("#agent-binary a[download] >> text=Download");
  if (!/sha256sum -c/.test(await page.textContent("#agent-binary"))) throw new Error("the agent download shows no digest check");

  step("an organisation created, renamed and deleted; a used role refused");
  await page.goto(url + "#/organisations");
  await page.click("button >> text=New organisation");
  await page.fill("dialog input[name=name]", "e2e-client");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("td >> text=e2e-client");
  await page.click("tr:has-text('e2e-client') button[data-action=edit]");
  await page.fill("dialog input[name=name]", "e2e-client-b");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector("td >> text=e2e-client-b");
  await page.click("tr:has-text('e2e-client-b') button[data-action=delete]");
  await page.waitForSelector(".toast >> text=Deleted the organisation e2e-client-b");
  await page.waitForFunction(() => ![...document.querySelectorAll("td")].some((td) => td.textContent === "e2e-client-b"));

  step("a site renamed where it is named");
  await page.click("button[data-site='branch-7']");
  await page.fill("dialog input[name=name]", "branch-8");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector(".toast >> text=Renamed branch-7 to branch-8");
  await page.waitForSelector("button[data-site='branch-8']");
  await shot(page, "organisations");

  step("a user with a name and email, edited; their grant changed in place");
  await page.goto(url + "#/users");
  await page.click("button >> text=New user");
  await page.fill("dialog input[name=username]", "e2e-ana");
  await page.fill("dialog input[name=password]", "a long enough password");
  await page.fill("dialog input[name=full_name]", "Ana Lima");
  await page.fill("dialog input[name=email]", "ana@example.com");
  await page.click("dialog button[type=submit]");
  const ana = "#main tr:has(td:text-is('e2e-ana'))";
  await page.waitForSelector(`${ana}:has-text('ana@example.com')`);
  await page.click(`${ana} button[data-action=edit]`);
  await page.fill("dialog input[name=email]", "ana.souza@example.com");
  await page.click("dialog button[type=submit]");
  await page.waitForSelector(`${ana}:has-text('ana.souza@example.com')`);
  await page.click(`${ana} button[data-action=grants]`);
  await page.click("dialog button[data-action=change-grant]");
  await page.selectOption("dialog form select[name=role]", "read_only");
  await page.click("dialog form button[type=submit]");
  await page.waitForSelector(".toast >> text=Grant of e2e-ana changed");
  await page.waitForSelector("dialog td:text-is('read_only')");
  await shot(page, "user-grants");
  await page.keyboard.press("Escape");

  step("dark mode");
  await page.goto(url + "#/");
  await page.waitForSelector("#stats a.stat");
  await page.click("#theme");
  await page.click("#theme");
  if ((await page.getAttribute("html", "data-theme")) !== "dark") throw new Error("the theme button did not switch to dark");
  await shot(page, "dashboard-dark");

  step("two-factor setup shows a QR code");
  await page.click("#mfa");
  await page.waitForSelector("img.qr");
  const qrWidth = await page.$eval("img.qr", (img) => img.complete ? img.naturalWidth : 0);
  if (!(qrWidth >= 200)) throw new Error(`the QR code did not load (natural width ${qrWidth})`);
  await shot(page, "two-factor");
  await page.click("#mfa-cancel");
  await page.waitForSelector("#stats a.stat");

  step("sign out");
  await page.click("#signout");
  await page.waitForSelector("#signin:not([hidden])");
});
