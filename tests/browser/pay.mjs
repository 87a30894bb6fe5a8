// The sandbox page in real headless Chromium: log in, pay, confirm in the WeChat sheet, see `paid`;
// then decline one and see `failed`. SANDBOX_URL names the running sandbox; SCREENSHOT where to save.
import { chromium } from 'playwright-core';

const url = process.env.SANDBOX_URL || 'http://127.0.0.1:3000/';
const screenshot = process.env.SCREENSHOT || 'docs/sandbox.png';
const STEP_MS = 30_000;
let passed = 0;
let failed = 0;

async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}\n  ${String(error && error.stack || error).split('\n').join('\n  ')}`);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--no-first-run', '--disable-quic', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 430, height: 900 } });
  page.setDefaultTimeout(STEP_MS);
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(url);

  await check('logs in, pays, confirms and sees the order paid', async () => {
    await page.click('#login');
    await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Logged in as o'));
    await page.click('#pay');
    await page.waitForSelector('#pay-sheet:not([hidden])');
    await page.click('#confirm-pay');
    await page.waitForSelector('#status[data-status="paid"]');
    await page.screenshot({ path: screenshot, fullPage: true });
    if (pageErrors.length) throw new Error('page errors: ' + pageErrors.join('; '));
  });

  await check('a declined payment ends failed', async () => {
    await page.click('#pay');
    await page.waitForSelector('#pay-sheet:not([hidden])');
    await page.click('#fail-pay');
    await page.waitForSelector('#status[data-status="failed"]');
    const detail = await page.textContent('#status-detail');
    if (!/declined/i.test(detail)) throw new Error(`expected the decline reason, got ${detail}`);
  });
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
