// The sandbox page in headless Chromium, driven by playwright-core with Debian's /usr/bin/chromium
// (playwright-core never downloads a browser).
//
//   SANDBOX_URL=http://127.0.0.1:3000/ [SCREENSHOT=docs/sandbox.png] node tests/browser/pay.mjs
//
// 1. log in, get an order signed by the sandbox's stand-in merchant (POST /sandbox/orders), pay it with
//    {"orderToken"} only, confirm in the stand-in WeChat sheet: the price shown is the merchant's, the
//    page must show `paid` (and the API must agree), and an `Order Paid` fulfilment event for the
//    order must appear in the events panel; a screenshot is saved.
// 2. a second merchant order, declined: the page must show `failed` (and the API must agree).
// 3. a third, paid with 2C2P's notification lost: reconciliation (every 2 s in the sandbox) or
//    GET /orders must find the payment, so the page ends `paid` and says the payment was recovered.
// Prints "N passed, M failed" last and exits non-zero when anything failed. Every step is bounded.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const SANDBOX_URL = process.env.SANDBOX_URL || 'http://127.0.0.1:3000/';
const SCREENSHOT = process.env.SCREENSHOT || 'docs/sandbox.png';
const CHROMIUM = '/usr/bin/chromium';
const STEP_MS = 30_000;
const WHOLE_RUN_MS = 180_000;
const EVENT_MS = 15_000; // an event reaches the panel within a poll or two of the status change
const RECOVERY_MS = 20_000; // a lost notification: reconciliation runs every 2 s in the sandbox

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
const prepayBodies = []; // what the page sent to POST /prepay, to check that it sent no price
page.on('request', (request) => {
  if (request.method() === 'POST' && new URL(request.url()).pathname === '/prepay') {
    try {
      prepayBodies.push(JSON.parse(request.postData() || 'null'));
    } catch {
      prepayBodies.push(request.postData());
    }
  }
});
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
async function serverOrder(orderId) {
  if (!token) throw new Error('no token was seen in the /openid answer');
  const response = await fetch(new URL('/orders/' + encodeURIComponent(orderId), SANDBOX_URL), {
    headers: { Authorization: 'Bearer ' + token },
    signal: AbortSignal.timeout(STEP_MS),
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`GET /orders/${orderId} answered ${response.status} ${JSON.stringify(body)}`);
  return body;
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

/** The "let the client choose the price" switch is read from the sandbox and left off (the default). */
async function clientPricingOff() {
  await step('the CLIENT_PRICING switch is read', () => page.waitForSelector('#pricing-switch[data-state="ready"]'));
  if (await page.isChecked('#client-pricing')) {
    await step('turn CLIENT_PRICING off', () => page.uncheck('#client-pricing'));
    await step('the sandbox confirms it is off', () =>
      page.waitForSelector('#pricing-switch[data-state="ready"] #client-pricing:not(:checked)'));
  }
  if (!(await page.isHidden('#client-order'))) throw new Error('the client-priced fields show while CLIENT_PRICING is off');
}

/** Fills the merchant panel, asks POST /sandbox/orders and waits until the page holds that signed order. */
async function merchantOrder({ orderId, amount, currency, description }) {
  await step('fill the merchant\'s order', async () => {
    await page.fill('#order-id', orderId);
    await page.fill('#amount', amount);
    await page.selectOption('#currency', currency);
    await page.fill('#description', description);
  });
  await step('click "get an order from the merchant"', () => page.click('#get-order'));
  await step('the merchant signs it', () => page.waitForFunction(
    (id) => document.getElementById('signed-order').dataset.state === 'ready' &&
      document.getElementById('pay-order-id').textContent.trim() === id, orderId));
  await step('Pay is enabled', () => page.waitForSelector('#pay:not([disabled])'));
}

/** The Order Paid / Order Failed event of an order shows in the events panel; resolves with its attributes. */
async function eventShown(orderId, detailType) {
  const selector = `#events li[data-testid="event"][data-order-id="${orderId}"][data-detail-type="${detailType}"]`;
  const item = await step(`an ${detailType} event for ${orderId} appears in the events panel`,
    () => page.waitForSelector(selector, { timeout: EVENT_MS }));
  return {
    eventId: await item.getAttribute('data-event-id'),
    status: await item.getAttribute('data-status'),
    openid: await item.getAttribute('data-openid'),
    text: (await item.textContent()).trim(),
  };
}

function newOrderId(prefix) {
  return prefix + '-' + Date.now().toString(36).toUpperCase() + Math.floor(Math.random() * 1296).toString(36).toUpperCase();
}

try {
  let openid = '';

  await check('log in, get a merchant-signed order, pay, confirm: paid, at the merchant\'s price, with an Order Paid event', async () => {
    await step(`open ${SANDBOX_URL}`, () => page.goto(SANDBOX_URL, { waitUntil: 'load' }));
    const code = await page.inputValue('#login-code');
    if (code !== 'sandbox-alice') throw new Error(`the login code defaults to ${JSON.stringify(code)}, not sandbox-alice`);
    await step('click Log in', () => page.click('#login'));
    await step('logged in', () => page.waitForSelector('#who[data-state="in"]'));
    openid = (await page.textContent('[data-testid="who-openid"]')).trim();
    const shownCode = (await page.textContent('[data-testid="who-code"]')).trim();
    if (!openid) throw new Error('the page does not show the openid that is logged in');
    if (shownCode !== 'sandbox-alice') throw new Error(`the page says the login code was ${JSON.stringify(shownCode)}`);
    await clientPricingOff();

    const prefilled = await page.inputValue('#order-id');
    if (!/^DEMO-[A-Z0-9]+$/.test(prefilled)) throw new Error(`unexpected prefilled orderId ${JSON.stringify(prefilled)}`);
    const orderId = newOrderId('MERCHANT');
    await merchantOrder({ orderId, amount: '23.40', currency: 'SGD', description: 'Flat white x3' });

    // The price to pay is the merchant's, as signed, and not a field the mini program can edit.
    const price = (await page.textContent('#pay-amount')).trim();
    if (price !== '23.40 SGD') throw new Error(`the page offers to pay ${JSON.stringify(price)}, not the merchant's 23.40 SGD`);
    const editable = await page.evaluate(() => {
      const el = document.getElementById('pay-amount');
      return el.matches('input, select, textarea') || el.isContentEditable || !!el.querySelector('input, select, textarea');
    });
    if (editable) throw new Error('the amount to pay is an editable field');
    const payer = (await page.textContent('#pay-sub')).trim();
    if (payer !== openid) throw new Error(`the order was signed for ${JSON.stringify(payer)}, not the logged-in ${openid}`);
    // Typing into the merchant's form afterwards does not change the order that was signed.
    await step('edit the merchant form after signing', () => page.fill('#amount', '0.01'));
    const after = (await page.textContent('#pay-amount')).trim();
    if (after !== '23.40 SGD') throw new Error(`editing the form changed the price to pay to ${JSON.stringify(after)}`);

    const prepaysBefore = prepayBodies.length;
    await payAndChoose('#confirm-pay');
    const sheet = (await page.textContent('#sheet-amount')).trim();
    if (sheet !== '23.40 SGD') throw new Error(`the payment sheet showed ${JSON.stringify(sheet)}`);
    await step('the status turns paid', () => page.waitForSelector('#status[data-status="paid"]'));
    const shown = (await page.textContent('#status')).trim();
    if (shown !== 'paid') throw new Error(`#status reads ${JSON.stringify(shown)}`);
    await step('the page polled GET /orders', () =>
      page.waitForFunction((id) => [...document.querySelectorAll('#log li')]
        .some((li) => li.textContent.includes(`GET /orders/${id} → 200 (paid`)), orderId));

    const sent = prepayBodies.slice(prepaysBefore);
    if (sent.length < 1) throw new Error('no POST /prepay was seen');
    for (const body of sent) {
      const keys = body && typeof body === 'object' ? Object.keys(body) : [];
      if (keys.length !== 1 || keys[0] !== 'orderToken' || typeof body.orderToken !== 'string') {
        throw new Error(`POST /prepay was sent ${JSON.stringify(keys)}, not just {"orderToken"}`);
      }
    }
    const order = await step('ask the API', () => serverOrder(orderId));
    if (order.status !== 'paid') throw new Error(`the API says ${order.status} for ${orderId}`);
    if (order.amount !== '23.40' || order.currency !== 'SGD') {
      throw new Error(`the API charged ${order.amount} ${order.currency}, not the merchant's 23.40 SGD`);
    }

    const event = await eventShown(orderId, 'Order Paid');
    if (event.status !== 'paid') throw new Error(`the Order Paid event says status ${event.status}`);
    if (!event.eventId.startsWith(orderId + ':')) throw new Error(`the event's eventId is ${JSON.stringify(event.eventId)}`);
    if (event.openid !== openid) throw new Error(`the event names openid ${JSON.stringify(event.openid)}, not ${openid}`);
    if (!event.text.includes('23.40')) throw new Error(`the event does not show the amount: ${JSON.stringify(event.text)}`);
    const newest = await page.getAttribute('#events li[data-testid="event"]:first-child', 'data-order-id');
    if (newest !== orderId) throw new Error(`the newest event (listed first) is for ${newest}, not ${orderId}`);
    await tokenNotShown();

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await step('save the screenshot', () => page.screenshot({ path: SCREENSHOT, fullPage: true }));
    if (problems.length) throw new Error(problems.join('; '));
  });

  await check('a second merchant order, declined: the page and the API say failed', async () => {
    const orderId = newOrderId('BROWSER');
    await merchantOrder({ orderId, amount: '12.50', currency: 'SGD', description: 'Latte x2' });
    await payAndChoose('#fail-pay');
    await step('the status turns failed', () => page.waitForSelector('#status[data-status="failed"]'));
    if (await page.isVisible('#pay-sheet')) throw new Error('the payment sheet is still open');
    const order = await step('ask the API', () => serverOrder(orderId));
    if (order.status !== 'failed') throw new Error(`the API says ${order.status} for ${orderId}`);
    const event = await eventShown(orderId, 'Order Failed');
    if (event.status !== 'failed') throw new Error(`the Order Failed event says status ${event.status}`);
    await tokenNotShown();
    if (problems.length) throw new Error(problems.join('; '));
  });

  await check('a third order, paid but 2C2P\'s notification is lost: reconciliation finds it, the page ends paid', async () => {
    const orderId = newOrderId('LOST');
    await merchantOrder({ orderId, amount: '8.80', currency: 'SGD', description: 'Croissant' });
    await payAndChoose('#lost-pay');
    await step('the log says the notification was dropped', () =>
      page.waitForSelector('#log li[data-kind="notification-lost"]'));
    await step(`the status turns paid within ${RECOVERY_MS / 1000} s`, () =>
      page.waitForSelector('#status[data-status="paid"]', { timeout: RECOVERY_MS }));
    await step('the log says the payment was recovered', () =>
      page.waitForFunction((id) => [...document.querySelectorAll('#log li[data-kind="recovered"]')]
        .some((li) => li.textContent.includes(id)), orderId));
    const order = await step('ask the API', () => serverOrder(orderId));
    if (order.status !== 'paid') throw new Error(`the API says ${order.status} for ${orderId}`);
    if (order.amount !== '8.80') throw new Error(`the API charged ${order.amount}, not the merchant's 8.80`);
    const event = await eventShown(orderId, 'Order Paid');
    if (event.openid !== openid) throw new Error(`the event names openid ${JSON.stringify(event.openid)}, not ${openid}`);
    await tokenNotShown();
    if (problems.length) throw new Error(problems.join('; '));
  });
} finally {
  clearTimeout(watchdog);
  await browser.close().catch(() => {});
}
finish();
