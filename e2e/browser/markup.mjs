// Signs in to the console and checks that agent-reported text containing
// markup is shown as text: no element is created from it and no script runs.
// Usage: node markup.mjs URL USERNAME PASSWORD EXPECTED_TEXT
import { chromium } from "playwright-core";

const [url, username, password, expected] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let failure = null;
try {
  const page = await browser.newPage({ ignoreHTTPSErrors: true });
  page.on("dialog", async (dialog) => { failure = `a dialog opened: ${dialog.message()}`; await dialog.dismiss(); });
  await page.goto(url);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("#login button");
  await page.waitForSelector("#stats a.stat", { timeout: 15000 });
  await page.goto(url + "#/devices");
  await page.waitForSelector("#device-list tr.device", { timeout: 15000 });
  const cells = await page.$$eval("#device-list td", (tds) => tds.map((td) => td.textContent));
  // Both the device name and the reported hostname carry the markup.
  if (cells.filter((c) => c === expected).length < 2) failure = `expected the literal text ${expected} twice among ${JSON.stringify(cells)}`;
  const injected = await page.$$eval("#main img, #main script, #main b", (els) => els.length);
  if (injected > 0) failure = `${injected} element(s) were created from agent text`;
  // The device page shows the same text, also as text.
  await page.click("#device-list a.device-name");
  await page.waitForSelector("#device-name");
  const title = await page.textContent("#device-name");
  if (title !== expected) failure = `device page shows ${title}`;
  if ((await page.$$("#main img, #main b")).length > 0) failure = "markup rendered on the device page";
  if (await page.evaluate(() => window.__pwned === true)) failure = "injected script ran";
} catch (error) {
  failure = String(error);
} finally {
  await browser.close();
}
if (failure) {
  console.error(failure);
  process.exit(1);
}
console.log("markup shown as text");
