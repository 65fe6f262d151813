// Opens a history.html in Chromium through Playwright and says what it shows, for tests/merge.rs
// (and for the README's picture): `node look_at_history.cjs NODE_MODULES BROWSER PAGE SCREENSHOT`.
const [modules, executablePath, page, screenshot] = process.argv.slice(2);
const { chromium } = require(`${modules}/playwright-core`);

(async () => {
  const browser = await chromium.launch({ executablePath });
  const tab = await browser.newPage({ viewport: { width: 900, height: 700 } });
  await tab.goto(`file://${page}`);
  const seen = {
    plots: await tab.locator('svg polyline').count(),
    dots: await tab.locator('svg circle').count(),
    unstable: await tab.locator('h2:has-text("Unstable") + table tr').count(),
    text: await tab.locator('body').innerText(),
  };
  await tab.screenshot({ path: screenshot, fullPage: true });
  await browser.close();
  console.log(JSON.stringify(seen));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
