// The sandbox page in headless Chromium, driven by playwright-core with Debian's /usr/bin/chromium
// (playwright-core never downloads a browser).
//
//   SANDBOX_URL=http://127.0.0.1:3000/ [SCREENSHOT=docs/sandbox.png] node tests/browser/pay.mjs
//
// 1. log in, pay an order, confirm in the stand-in WeChat sheet: the page must show `paid` (and the
//    API must agree); a screenshot is saved.
// 2. pay a second order and decline it: the page must show `failed` (and the API must agree).
// Prints "N passed, M failed" last and exits non-zero when anything failed. Every step is bounded.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const SANDBOX_URL = process.env.SANDBOX_URL || 'http://127.0.0.1:3000/';
const SCREENSHOT = process.env.SCREENSHOT || 'docs/sandbox.png';
const CHROMIUM = '/usr/bin/chromium';
const STEP_MS = 30_000;
const WHOLE_RUN_MS = 180_000;

let passed = 0;
let failed = 0;

function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

// A last line of defence: whatever hangs, the run ends with a verdict.
const watchdog = setTimeout(() => {
  console.error(`not ok - the whole run took longer than ${WHOLE_RUN_MS / 1000} s; giving up`);
  failed += 1;
  finish();
}, WHOLE_RUN_MS);

let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_MS,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-quic', '--disable-sync'],
  });
} catch (error) {
  console.error(`not ok - could not start ${CHROMIUM}: ${firstLine(error)}`);
  console.error('  (install it with: apt-get install -y chromium)');
  failed = 2;
  clearTimeout(watchdog);
  finish();
}

const context = await browser.newContext({ viewport: { width: 420, height: 900 }, deviceScaleFactor: 2 });
const page = await context.newPage();
page.setDefaultTimeout(STEP_MS);
page.setDefaultNavigationTimeout(STEP_MS);

const problems = []; // uncaught page errors and console errors, reported with any failure
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
page.on('console', (message) => {
  if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
});
let token = null; // taken from the /openid answer, to ask the API directly and to check it is never shown
page.on('response', async (response) => {
  if (new URL(response.url()).pathname === '/openid' && response.status() === 200) {
    try {
      token = (await response.json()).token || token;
    } catch {
      // the page reports a broken answer itself
    }
  }
});

function firstLine(error) {
  return String((error && error.message) || error).split('\n')[0];
}

/** Runs one step; a failure says which step, and what the page showed at that moment. */
async function step(name, action) {
  try {
    return await action();
  } catch (error) {
    let seen = '';
    try {
      seen = await page.evaluate(() => {
        const status = document.getElementById('status');
        const detail = document.getElementById('status-detail');
        if (!status) return `\n  (no #status on ${location.href}: is SANDBOX_URL the sandbox page?)`;
        const log = [...document.querySelectorAll('#log li')].slice(-4).map((li) => '    | ' + li.textContent);
        return `\n  page status: ${status.dataset.status} (${detail ? detail.textContent : ''})\n  last log lines:\n${log.join('\n')}`;
      });
    } catch {
      seen = '\n  (the page could not be read)';
    }
    const extra = problems.length ? `\n  ${problems.join('\n  ')}` : '';
    throw new Error(`${name}: ${firstLine(error)}${seen}${extra}`);
  }
}

async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}\n  ${String(error.message || error).split('\n').join('\n  ')}`);
  }
}

/** The API's own view of an order, asked directly with the page's session token. */
async function serverStatus(orderId) {
  if (!token) throw new Error('no token was seen in the /openid answer');
  const response = await fetch(new URL('/orders/' + encodeURIComponent(orderId), SANDBOX_URL), {
    headers: { Authorization: 'Bearer ' + token },
    signal: AbortSignal.timeout(STEP_MS),
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`GET /orders/${orderId} answered ${response.status} ${JSON.stringify(body)}`);
  return body.status;
}

async function tokenNotShown() {
  const text = await page.evaluate(() => document.body.innerText);
  if (token && text.includes(token)) throw new Error('the session token is visible on the page');
}

async function payAndChoose(choice) {
  await step('click Pay', () => page.click('#pay'));
  await step('the payment sheet opens', () => page.waitForSelector('#pay-sheet:not([hidden])', { state: 'visible' }));
  const before = await page.getAttribute('#status', 'data-status');
  if (before === 'paid' || before === 'failed') {
    throw new Error(`the page shows ${before} before the payment was confirmed or declined`);
  }
  await step(`click ${choice}`, () => page.click(choice));
}

try {
  await check('log in, pay, confirm: the page and the API say paid', async () => {
    await step(`open ${SANDBOX_URL}`, () => page.goto(SANDBOX_URL, { waitUntil: 'load' }));
    const code = await page.inputValue('#login-code');
    if (code !== 'sandbox-alice') throw new Error(`the login code defaults to ${JSON.stringify(code)}, not sandbox-alice`);
    await step('click Log in', () => page.click('#login'));
    await step('logged in', () => page.waitForSelector('#who[data-state="in"]'));

    const orderId = await page.inputValue('#order-id');
    if (!/^DEMO-[A-Z0-9]+$/.test(orderId)) throw new Error(`unexpected prefilled orderId ${JSON.stringify(orderId)}`);
    await payAndChoose('#confirm-pay');
    await step('the status turns paid', () => page.waitForSelector('#status[data-status="paid"]'));
    const shown = (await page.textContent('#status')).trim();
    if (shown !== 'paid') throw new Error(`#status reads ${JSON.stringify(shown)}`);
    await step('the page polled GET /orders', () =>
      page.waitForFunction((id) => [...document.querySelectorAll('#log li')]
        .some((li) => li.textContent.includes(`GET /orders/${id} → 200 (paid`)), orderId));
    const status = await step('ask the API', () => serverStatus(orderId));
    if (status !== 'paid') throw new Error(`the API says ${status} for ${orderId}`);
    await tokenNotShown();

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await step('save the screenshot', () => page.screenshot({ path: SCREENSHOT, fullPage: true }));
    if (problems.length) throw new Error(problems.join('; '));
  });

  await check('a second order, declined: the page and the API say failed', async () => {
    const orderId = 'BROWSER-' + Date.now().toString(36).toUpperCase();
    await step('type a new orderId', () => page.fill('#order-id', orderId));
    await payAndChoose('#fail-pay');
    await step('the status turns failed', () => page.waitForSelector('#status[data-status="failed"]'));
    if (await page.isVisible('#pay-sheet')) throw new Error('the payment sheet is still open');
    const status = await step('ask the API', () => serverStatus(orderId));
    if (status !== 'failed') throw new Error(`the API says ${status} for ${orderId}`);
    await tokenNotShown();
    if (problems.length) throw new Error(problems.join('; '));
  });
} finally {
  clearTimeout(watchdog);
  await browser.close().catch(() => {});
}
finish();
