// The frame both browser walks share: numbered steps on stdout, page
// errors collected, the browser closed whatever happens, and the exit code
// and message a Rust test reads.
// Usage: await walk(browser, "console", outDir, async (step, errors) => { ... });
export async function walk(browser, name, outDir, body) {
  const errors = [];
  const step = (what) => console.log(`-- ${what}`);
  let failure = null;
  try {
    await body(step, errors);
  } catch (error) {
    failure = String(error.stack || error);
  } finally {
    await browser.close();
  }
  if (errors.length) failure = (failure ? failure + "\n" : "") + errors.join("\n");
  if (failure) {
    console.error(failure);
    process.exit(1);
  }
  console.log(`${name} checks passed; screenshots in ${outDir}`);
}
