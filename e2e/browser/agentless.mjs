// Agentless devices in chromium: the page from the navigation, a website
// added with its probing agent chosen in the form, a TCP probe added to it,
// and the probe's result (run by the agent, attributed to the agentless
// device) shown on its page.
// Usage: node agentless.mjs URL USERNAME PASSWORD SCREENSHOT_DIR PORT
import { chromium } from "playwright-core";
import { walk } from "./run.mjs";

const [url, username, password, outDir, port] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
await walk(browser, "agentless", outDir, async (step, errors) => {
  const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  step("sign in");
  await page.goto(url);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("#login button");
  await page.waitForSelector("#stats a.stat", { timeout: 15000 });

  step("add an agentless website probed by an agent");
  await page.click('nav a[data-page="agentless"]');
  await page.click("button[data-action=new-agentless]");
  await page.fill("form input[name=name]", "e2e-website");
  await page.selectOption("form select[name=category]", "website");
  await page.fill("form input[name=address]", "127.0.0.1");
  await page.click("form:not(#login) button[type=submit]");
  await page.waitForSelector("#agentless-device", { timeout: 15000 });

  step("add a TCP probe; its result shows on the device");
  await page.click("button[data-action=new-probe]");
  await page.fill("form input[name=name]", "port");
  await page.fill("form input[name=url]", `tcp://127.0.0.1:${port}?timeout=2s`);
  await page.click("form:not(#login) button[type=submit]");
  const deadline = Date.now() + 30000;
  for (;;) {
    await page.waitForSelector("#agentless-device", { timeout: 15000 });
    const text = await page.textContent("#agentless-device");
    if (text.includes("PROBE OK")) break;
    if (Date.now() > deadline) throw new Error(`no probe result: ${text}`);
    await page.waitForTimeout(500);
    await page.reload();
  }
  const listed = await page.textContent("main");
  if (!listed.includes("e2e-website") || !listed.includes("online")) throw new Error(`list: ${listed.slice(0, 400)}`);
  await page.screenshot({ path: `${outDir}/agentless.png`, fullPage: true });
});
