'use strict';
// node --test miniprogram/test/   (Node 20, no dependencies)

const nodeTest = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const MODULE_PATH = path.join(__dirname, '..', 'payments.js');
const { createClient, PaymentError, FINAL_STATUSES } = require(MODULE_PATH);

const BASE = 'https://api.example.test';

/** Every test is bounded: a polling loop that never ends must fail, not hang the suite. */
function test(name, fn) {
  return nodeTest(name, { timeout: 10000 }, fn);
}
/** Fakes made by the current test; silenced afterwards so a runaway loop cannot keep the process alive. */
const liveFakes = [];
nodeTest.afterEach(() => {
  for (const fake of liveFakes.splice(0)) fake.closed = true;
});

/**
 * A scripted stand-in for WeChat's `wx`. Routes answer in order; the last answer of a route repeats.
 * An answer is { status, body } (body given as-is to success: a string stays a string), { fail: errMsg },
 * or a function of the recorded request returning one of those.
 */
class FakeWx {
  constructor() {
    this.requests = [];
    this.logins = 0;
    this.payments = [];
    this.routes = new Map();
    this.codes = ['code-1', 'code-2', 'code-3', 'code-4'];
    this.loginFail = null;
    this.paymentResult = { ok: true };
    this.onPayment = null;
    this.closed = false;
    liveFakes.push(this);
  }

  on(method, pathname, ...answers) {
    this.routes.set(method + ' ' + pathname, answers);
    return this;
  }

  /** The usual /openid answer: token tok-N for the N-th login. */
  withLogin(extra) {
    return this.on('POST', '/openid', () => ({
      status: 200,
      body: Object.assign({ openid: 'o-alice', token: 'tok-' + this.logins, expiresIn: 7200 }, extra),
    }));
  }

  login(options) {
    this.logins += 1;
    const n = this.logins;
    setImmediate(() => {
      if (this.loginFail) options.fail({ errMsg: this.loginFail });
      else options.success({ code: this.codes[n - 1], errMsg: 'login:ok' });
    });
  }

  request(options) {
    if (this.closed) return; // the test is over: never answer
    const url = new URL(options.url);
    const recorded = {
      url: options.url,
      path: url.pathname,
      method: options.method,
      header: Object.assign({}, options.header),
      data: options.data,
      body: typeof options.data === 'string' ? JSON.parse(options.data) : options.data,
      timeout: options.timeout,
      hasDataKey: Object.prototype.hasOwnProperty.call(options, 'data'),
    };
    this.requests.push(recorded);
    const answers = this.routes.get(options.method + ' ' + url.pathname);
    setImmediate(() => {
      if (!answers) {
        options.success({ statusCode: 404, data: { error: { code: 'not_found', message: 'no route in the fake' } } });
        return;
      }
      let answer = answers.length > 1 ? answers.shift() : answers[0];
      if (typeof answer === 'function') answer = answer(recorded);
      if (answer.fail) options.fail({ errMsg: answer.fail });
      else options.success({ statusCode: answer.status, data: answer.body, header: {} });
    });
  }

  requestPayment(options) {
    const params = {};
    for (const key of Object.keys(options)) {
      if (key !== 'success' && key !== 'fail' && key !== 'complete') params[key] = options[key];
    }
    this.payments.push({ params, hasCallbacks: typeof options.success === 'function' && typeof options.fail === 'function' });
    if (this.onPayment) this.onPayment(params);
    const result = this.paymentResult;
    setImmediate(() => {
      if (result.ok) options.success({ errMsg: 'requestPayment:ok' });
      else options.fail({ errMsg: result.errMsg });
    });
  }

  calls(method, pathname) {
    return this.requests.filter((r) => r.method === method && r.path === pathname);
  }
}

const PAYMENT = Object.freeze({
  timeStamp: '1764201600',
  nonceStr: 'n0nce',
  package: 'prepay_id=wx2711020000000000000000000000',
  signType: 'HMAC-SHA256',
  paySign: 'ABCDEF0123',
  extraFrom2c2p: 'kept-as-is',
});

/** A client-priced order: the body a CLIENT_PRICING=true backend takes. */
const ORDER = Object.freeze({ orderId: 'A-1001', amount: '12.50', currency: 'SGD', description: 'Latte x2' });
/** What the merchant's backend hands the mini program: a JWT the client never looks into. */
const ORDER_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJvcmRlcklkIjoiQS0xMDAxIn0.c2lnbmVk';
const SIGNED = Object.freeze({ orderToken: ORDER_TOKEN });

function orderJson(status, extra) {
  return Object.assign(
    { orderId: 'A-1001', invoiceNo: 'INV0001', status, amount: '12.50', currency: 'SGD', description: 'Latte x2',
      createdAt: '2026-11-27T01:00:00Z', updatedAt: '2026-11-27T01:00:05Z' },
    extra
  );
}

function prepayJson() {
  return { orderId: 'A-1001', invoiceNo: 'INV0001', status: 'pending', amount: '12.50', currency: 'SGD', payment: Object.assign({}, PAYMENT) };
}

function client(fake, extra) {
  return createClient(Object.assign({ baseUrl: BASE, wx: fake, pollIntervalMs: 1, pollTimeoutMs: 2000 }, extra));
}

async function rejectsWith(promise, code) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PaymentError, 'expected a PaymentError, got ' + error);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'PaymentError');
    assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection with code ${code}, but it resolved`);
}

// ---------------------------------------------------------------------------------------------- login

test('login sends the wx.login code, keeps the token and does not return it', async () => {
  const fake = new FakeWx().withLogin({ unionid: 'u-alice' });
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
  const c = createClient({ baseUrl: BASE + '/', wx: fake }); // trailing slash is tolerated

  const who = await c.login();
  assert.deepEqual(who, { openid: 'o-alice', unionid: 'u-alice', expiresIn: 7200 });
  const [call] = fake.calls('POST', '/openid');
  assert.equal(call.url, BASE + '/openid');
  assert.deepEqual(call.body, { code: 'code-1' });
  assert.equal(call.header['Content-Type'], 'application/json');
  assert.equal(call.header.Authorization, undefined);
  assert.equal(call.timeout, 10000);

  await c.getOrder('A-1001');
  assert.equal(fake.logins, 1, 'a valid token is reused');
  assert.equal(fake.calls('GET', '/orders/A-1001')[0].header.Authorization, 'Bearer tok-1');
});

test('login leaves unionid out when the server gives none', async () => {
  const fake = new FakeWx().withLogin();
  const who = await client(fake).login();
  assert.deepEqual(who, { openid: 'o-alice', expiresIn: 7200 });
  assert.equal('unionid' in who, false);
});

test('concurrent calls without a session share one wx.login', async () => {
  const fake = new FakeWx().withLogin();
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
  const c = client(fake);
  await Promise.all([c.getOrder('A-1001'), c.getOrder('A-1001'), c.login()]);
  assert.equal(fake.logins, 1);
  assert.equal(fake.calls('POST', '/openid').length, 1);
});

test('the token is renewed shortly before it expires', async () => {
  let clock = 1000000;
  const fake = new FakeWx().withLogin({ expiresIn: 120 });
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
  const c = client(fake, { now: () => clock });

  await c.getOrder('A-1001');
  clock += 80000; // 40 s left, more than the 30 s margin
  await c.getOrder('A-1001');
  assert.equal(fake.logins, 1);
  clock += 15000; // 25 s left: renew first
  await c.getOrder('A-1001');
  assert.equal(fake.logins, 2);
  const tokens = fake.calls('GET', '/orders/A-1001').map((r) => r.header.Authorization);
  assert.deepEqual(tokens, ['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
});

test('a wx.login failure rejects with login_failed and calls no API', async () => {
  const fake = new FakeWx().withLogin();
  fake.loginFail = 'login:fail network';
  const error = await rejectsWith(client(fake).prepay(ORDER), 'login_failed');
  assert.equal(error.detail, 'login:fail network');
  assert.equal(fake.requests.length, 0);
});

test('a refused login code surfaces the server error', async () => {
  const fake = new FakeWx().on('POST', '/openid', {
    status: 401, body: { error: { code: 'invalid_code', message: 'WeChat says the login code is invalid.' } },
  });
  const error = await rejectsWith(client(fake).login(), 'invalid_code');
  assert.equal(error.status, 401);
  assert.equal(fake.logins, 1, 'invalid_code is not unauthorized: no second login');
});

// --------------------------------------------------------------------------------------------- prepay

test('prepay logs in, sends the bearer token and the order, and returns the 200 body', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  const result = await client(fake).prepay(Object.assign({ ignored: 'not sent' }, ORDER));
  assert.deepEqual(result, prepayJson());
  const [call] = fake.calls('POST', '/prepay');
  assert.equal(call.url, BASE + '/prepay');
  assert.equal(call.header.Authorization, 'Bearer tok-1');
  assert.equal(call.header['Content-Type'], 'application/json');
  assert.equal(typeof call.data, 'string', 'the body is sent as JSON text');
  assert.deepEqual(call.body, { orderId: 'A-1001', amount: '12.50', currency: 'SGD', description: 'Latte x2' });
});

test('prepay with an order token sends exactly { orderToken }', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  const result = await client(fake).prepay(Object.assign({ ignored: 'not sent' }, SIGNED));
  assert.deepEqual(result, prepayJson());
  const [call] = fake.calls('POST', '/prepay');
  assert.equal(call.header.Authorization, 'Bearer tok-1');
  assert.equal(call.header['Content-Type'], 'application/json');
  assert.deepEqual(call.body, { orderToken: ORDER_TOKEN });
});

test('an order token beside any order field is refused before any request (prepay and pay)', async () => {
  for (const field of ['orderId', 'amount', 'currency', 'description']) {
    const fake = new FakeWx().withLogin();
    const mixed = Object.assign({}, SIGNED, { [field]: ORDER[field] });
    const fromPrepay = await rejectsWith(client(fake).prepay(mixed), 'invalid_request');
    assert.match(fromPrepay.message, /not both/);
    assert.match(fromPrepay.message, new RegExp(field));
    const fromPay = await rejectsWith(client(fake).pay(mixed), 'invalid_request');
    assert.equal(fromPay.message, fromPrepay.message);
    assert.equal(fromPay.status, undefined, 'no HTTP answer was involved');
    assert.equal(fake.logins, 0, 'not even wx.login');
    assert.equal(fake.requests.length, 0);
    assert.equal(fake.payments.length, 0);
  }
});

test('neither an order token nor an order is refused before any request', async () => {
  for (const nothing of [undefined, null, {}, { orderToken: undefined, orderId: undefined }, { note: 'x' }, 'A-1001']) {
    const fake = new FakeWx().withLogin();
    const fromPay = await rejectsWith(client(fake).pay(nothing), 'invalid_request');
    assert.match(fromPay.message, /orderToken/);
    assert.match(fromPay.message, /CLIENT_PRICING/);
    await rejectsWith(client(fake).prepay(nothing), 'invalid_request');
    assert.equal(fake.logins, 0);
    assert.equal(fake.requests.length, 0);
  }
});

test('an order token that is not a non-empty string is refused before any request', async () => {
  for (const orderToken of ['', null, 42, { jwt: ORDER_TOKEN }]) {
    const fake = new FakeWx().withLogin();
    const error = await rejectsWith(client(fake).pay({ orderToken }), 'invalid_request');
    assert.match(error.message, /orderToken/);
    assert.equal(fake.requests.length, 0);
  }
});

test('prepay refuses a numeric amount before calling anything', async () => {
  const fake = new FakeWx().withLogin();
  const error = await rejectsWith(client(fake).prepay(Object.assign({}, ORDER, { amount: 12.5 })), 'invalid_request');
  assert.match(error.message, /amount/);
  assert.equal(fake.requests.length, 0);
});

test('getOrder encodes the order id into the path and sends no body', async () => {
  const fake = new FakeWx().withLogin().on('GET', '/orders/A%201%2F2%3F', { status: 200, body: orderJson('paid') });
  const order = await client(fake).getOrder('A 1/2?');
  assert.equal(order.status, 'paid');
  const call = fake.requests.find((r) => r.method === 'GET');
  assert.equal(call.url, BASE + '/orders/A%201%2F2%3F');
  assert.equal(call.hasDataKey, false);
  assert.equal(call.header['Content-Type'], undefined);
});

// ---------------------------------------------------------------------------------------- pay: happy path

test('pay (client-priced, CLIENT_PRICING backend): prepay, requestPayment, then polls until paid', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001',
    { status: 200, body: orderJson('pending') },
    { status: 200, body: orderJson('pending') },
    { status: 200, body: orderJson('paid', { paidAt: '2026-11-27T01:00:09Z' }) });
  const order = await client(fake).pay(ORDER);
  assert.equal(order.status, 'paid');
  assert.equal(order.paidAt, '2026-11-27T01:00:09Z');
  assert.equal(fake.payments.length, 1);
  assert.equal(fake.calls('GET', '/orders/A-1001').length, 3);
  const order_ = fake.requests.map((r) => r.method + ' ' + r.path);
  assert.deepEqual(order_, ['POST /openid', 'POST /prepay', 'GET /orders/A-1001', 'GET /orders/A-1001', 'GET /orders/A-1001']);
});

test('pay({ orderToken }): prepay with the token, then polls the orderId the server answered', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay',
    { status: 200, body: Object.assign(prepayJson(), { orderId: 'SHOP-77' }) });
  fake.on('GET', '/orders/SHOP-77',
    { status: 200, body: orderJson('pending', { orderId: 'SHOP-77' }) },
    { status: 200, body: orderJson('paid', { orderId: 'SHOP-77', paidAt: '2026-11-27T01:00:09Z' }) });
  const order = await client(fake).pay(SIGNED);
  assert.equal(order.status, 'paid');
  assert.equal(order.orderId, 'SHOP-77');
  assert.deepEqual(fake.calls('POST', '/prepay')[0].body, { orderToken: ORDER_TOKEN });
  assert.deepEqual(fake.payments[0].params, Object.assign({}, PAYMENT));
  const order_ = fake.requests.map((r) => r.method + ' ' + r.path);
  assert.deepEqual(order_, ['POST /openid', 'POST /prepay', 'GET /orders/SHOP-77', 'GET /orders/SHOP-77']);
});

test('pay({ orderToken }): a cancelled sheet asks the server about the answered orderId', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay',
    { status: 200, body: Object.assign(prepayJson(), { orderId: 'SHOP-78' }) });
  fake.on('GET', '/orders/SHOP-78', { status: 200, body: orderJson('paid', { orderId: 'SHOP-78' }) });
  fake.paymentResult = { ok: false, errMsg: 'requestPayment:fail cancel' };
  const order = await client(fake).pay(SIGNED);
  assert.equal(order.status, 'paid');
  assert.equal(fake.calls('GET', '/orders/SHOP-78').length, 1);
});

test('pay({ orderToken }): a prepay answer without an orderId is bad_response, no payment sheet', async () => {
  const body = prepayJson();
  delete body.orderId;
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body });
  const error = await rejectsWith(client(fake).pay(SIGNED), 'bad_response');
  assert.match(error.message, /orderId/);
  assert.equal(fake.payments.length, 0);
});

test('pay({ orderToken }): the order token\'s own errors come through with their status', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay',
    { status: 400, body: { error: { code: 'invalid_order_token', message: 'The order token has expired.' } } },
    { status: 403, body: { error: { code: 'forbidden', message: 'The order token names another user.' } } });
  const c = client(fake);
  const expired = await rejectsWith(c.pay(SIGNED), 'invalid_order_token');
  assert.equal(expired.status, 400);
  assert.equal(expired.message, 'The order token has expired.');
  assert.equal((await rejectsWith(c.pay(SIGNED), 'forbidden')).status, 403);
  assert.equal(fake.payments.length, 0);
  assert.doesNotMatch(JSON.stringify(expired) + expired.message, /eyJ/, 'the order token is not echoed');
});

test('pay: wx.requestPayment receives 2C2P\'s object unchanged, extra keys included', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('paid') });
  await client(fake).pay(ORDER);
  assert.equal(fake.payments.length, 1);
  assert.deepEqual(fake.payments[0].params, Object.assign({}, PAYMENT));
  assert.equal(fake.payments[0].hasCallbacks, true);
});

test('pay: the requestPayment success callback is not proof of payment', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
  const error = await rejectsWith(client(fake, { pollTimeoutMs: 30 }).pay(ORDER), 'timeout');
  assert.equal(error.order.status, 'pending');
  assert.ok(fake.calls('GET', '/orders/A-1001').length >= 2, 'it kept asking the server');
});

test('pay resolves with a review order (money arrived, a person must look)', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('review') });
  const order = await client(fake).pay(ORDER);
  assert.equal(order.status, 'review');
});

// ------------------------------------------------------------------------------------- pay: sheet errors

test('pay: cancel rejects with cancelled after exactly one status check', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
  fake.paymentResult = { ok: false, errMsg: 'requestPayment:fail cancel' };
  const error = await rejectsWith(client(fake).pay(ORDER), 'cancelled');
  assert.equal(error.detail, 'requestPayment:fail cancel');
  assert.equal(error.order.status, 'pending');
  assert.equal(fake.calls('GET', '/orders/A-1001').length, 1);
});

test('pay: cancel but the server says paid resolves with the paid order', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('paid') });
  fake.paymentResult = { ok: false, errMsg: 'requestPayment:fail cancel' };
  const order = await client(fake).pay(ORDER);
  assert.equal(order.status, 'paid');
});

test('pay: cancel still rejects cancelled when the status check itself fails', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001', { fail: 'request:fail timeout' });
  fake.paymentResult = { ok: false, errMsg: 'requestPayment:fail cancel' };
  const error = await rejectsWith(client(fake).pay(ORDER), 'cancelled');
  assert.equal(error.order, undefined);
});

test('pay: another requestPayment failure rejects with payment_failed', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('failed', { failReason: 'Declined' }) });
  fake.paymentResult = { ok: false, errMsg: 'requestPayment:fail insufficient balance' };
  const error = await rejectsWith(client(fake).pay(ORDER), 'payment_failed');
  assert.equal(error.detail, 'requestPayment:fail insufficient balance');
  assert.match(error.message, /insufficient balance/);
  assert.equal(error.order.status, 'failed');
  assert.equal(fake.calls('GET', '/orders/A-1001').length, 1, 'no polling after a failed sheet');
});

test('pay: a sheet failure other than cancel watches a pending order, and money that lands counts', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001',
    { status: 200, body: orderJson('pending') },
    { status: 200, body: orderJson('pending') },
    { status: 200, body: orderJson('paid') });
  fake.paymentResult = { ok: false, errMsg: 'requestPayment:fail timeout' };
  assert.equal((await client(fake).pay(ORDER)).status, 'paid');
  assert.equal(fake.calls('GET', '/orders/A-1001').length, 3);

  // Still pending after the watch: payment_failed, carrying the last order seen.
  const stuck = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  stuck.on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
  stuck.paymentResult = { ok: false, errMsg: 'requestPayment:fail timeout' };
  const error = await rejectsWith(client(stuck, { pollTimeoutMs: 30 }).pay(ORDER), 'payment_failed');
  assert.equal(error.order.status, 'pending');
  assert.ok(stuck.calls('GET', '/orders/A-1001').length >= 2, 'watched, not looked at once');
});

test('a wx.login that never answers is login_failed after requestTimeoutMs, and asks WeChat for that bound', async () => {
  const fake = new FakeWx().withLogin();
  let asked;
  fake.login = (options) => { asked = options.timeout; }; // neither success nor fail, ever
  const error = await rejectsWith(client(fake, { requestTimeoutMs: 30 }).prepay(ORDER), 'login_failed');
  assert.match(error.message, /did not answer within 30 ms/);
  assert.equal(asked, 30);
  assert.equal(fake.requests.length, 0);
});

// ------------------------------------------------------------------------------------------- errors

test('a wx.request failure rejects with network and no HTTP status', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { fail: 'request:fail net::ERR_INTERNET_DISCONNECTED' });
  const error = await rejectsWith(client(fake).pay(ORDER), 'network');
  assert.equal(error.status, undefined);
  assert.equal(error.detail, 'request:fail net::ERR_INTERNET_DISCONNECTED');
  assert.match(error.message, /POST \/prepay/);
  assert.doesNotMatch(error.message + JSON.stringify(error), /tok-1/, 'the token is never in an error');
  assert.equal(fake.payments.length, 0, 'no payment sheet without prepay parameters');
});

test('server error JSON gives its code, message and HTTP status (string bodies parsed too)', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', {
    status: 409,
    body: JSON.stringify({ error: { code: 'order_conflict', message: 'orderId A-1001 is taken by another order.' } }),
  });
  const error = await rejectsWith(client(fake).pay(ORDER), 'order_conflict');
  assert.equal(error.status, 409);
  assert.equal(error.message, 'orderId A-1001 is taken by another order.');
  assert.equal(fake.payments.length, 0);
});

test('already_paid and invalid_request come through with their status', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay',
    { status: 409, body: { error: { code: 'already_paid', message: 'The order is paid already.' } } },
    { status: 400, body: { error: { code: 'invalid_request', message: 'currency: not supported.' } } });
  const c = client(fake);
  assert.equal((await rejectsWith(c.prepay(ORDER), 'already_paid')).status, 409);
  const invalid = await rejectsWith(c.prepay(ORDER), 'invalid_request');
  assert.equal(invalid.status, 400);
  assert.equal(invalid.message, 'currency: not supported.');
});

test('an error without our JSON is http_error; a 2xx without JSON is bad_response', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay',
    { status: 429, body: '{"message":"Too Many Requests"}' },
    { status: 200, body: '<html>gateway</html>' });
  const c = client(fake);
  assert.equal((await rejectsWith(c.prepay(ORDER), 'http_error')).status, 429);
  assert.equal((await rejectsWith(c.prepay(ORDER), 'bad_response')).status, 200);
});

test('waitForFinal rejects with timeout after its own timeoutMs', async () => {
  const fake = new FakeWx().withLogin().on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
  const c = client(fake, { pollIntervalMs: 5, pollTimeoutMs: 60000 });
  const started = Date.now();
  const error = await rejectsWith(c.waitForFinal('A-1001', { timeoutMs: 40 }), 'timeout');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 35 && elapsed < 2000, `stopped after ${elapsed} ms`);
  assert.equal(error.order.status, 'pending');
  assert.match(error.message, /still pending/);
});

test('waitForFinal returns any final status, rides out transient errors, stops on others', async () => {
  for (const status of FINAL_STATUSES) {
    const fake = new FakeWx().withLogin().on('GET', '/orders/A-1001', { status: 200, body: orderJson(status) });
    assert.equal((await client(fake).waitForFinal('A-1001')).status, status);
  }
  const flaky = new FakeWx().withLogin().on('GET', '/orders/A-1001',
    { fail: 'request:fail timeout' },
    { status: 502, body: { error: { code: 'upstream_error', message: 'busy' } } },
    { status: 200, body: orderJson('paid') });
  assert.equal((await client(flaky).waitForFinal('A-1001')).status, 'paid');
  assert.equal(flaky.calls('GET', '/orders/A-1001').length, 3);

  const missing = new FakeWx().withLogin().on('GET', '/orders/A-1001', { status: 404, body: { error: { code: 'not_found', message: 'No such order.' } } });
  await rejectsWith(client(missing).waitForFinal('A-1001'), 'not_found');
  assert.equal(missing.calls('GET', '/orders/A-1001').length, 1);
});

test('a 401 unauthorized logs in again once and retries with the new token', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay',
    { status: 401, body: { error: { code: 'unauthorized', message: 'The token has expired.' } } },
    { status: 200, body: prepayJson() });
  const result = await client(fake).prepay(ORDER);
  assert.equal(result.invoiceNo, 'INV0001');
  assert.equal(fake.logins, 2);
  const calls = fake.calls('POST', '/prepay');
  assert.deepEqual(calls.map((r) => r.header.Authorization), ['Bearer tok-1', 'Bearer tok-2']);
  assert.deepEqual(calls[1].body, calls[0].body);
});

test('a second 401 after the re-login is not retried again', async () => {
  const fake = new FakeWx().withLogin().on('GET', '/orders/A-1001',
    { status: 401, body: { error: { code: 'unauthorized', message: 'The token is not valid.' } } });
  const error = await rejectsWith(client(fake).getOrder('A-1001'), 'unauthorized');
  assert.equal(error.status, 401);
  assert.equal(fake.logins, 2);
  assert.equal(fake.calls('GET', '/orders/A-1001').length, 2);
});

test('pay rejects with rejected, carrying the order, when it ends failed', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001',
    { status: 200, body: orderJson('pending') },
    { status: 200, body: orderJson('failed', { failReason: 'Insufficient funds' }) });
  const error = await rejectsWith(client(fake).pay(ORDER), 'rejected');
  assert.equal(error.order.status, 'failed');
  assert.match(error.message, /ended failed: Insufficient funds/);
});

test('after the sheet said ok, expired is not final: pay keeps asking, and the late money counts', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001',
    { status: 200, body: orderJson('expired') },
    { status: 200, body: orderJson('expired') },
    { status: 200, body: orderJson('paid', { paidAt: '2026-11-27T01:15:02Z' }) });
  const order = await client(fake).pay(ORDER);
  assert.equal(order.status, 'paid');
  assert.equal(fake.calls('GET', '/orders/A-1001').length, 3);

  // Still expired at the deadline: timeout with the order, never rejected (it may still turn paid).
  const stale = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  stale.on('GET', '/orders/A-1001', { status: 200, body: orderJson('expired') });
  const error = await rejectsWith(client(stale, { pollTimeoutMs: 30 }).pay(ORDER), 'timeout');
  assert.equal(error.order.status, 'expired');
  // waitForFinal itself still stops at expired: it reports what the server says.
  assert.equal((await client(stale).waitForFinal('A-1001')).status, 'expired');
});

test('durations that are not milliseconds above 0 are refused, so no deadline can be missed', async () => {
  for (const bad of ['50', NaN, Infinity, 0, -1, null]) {
    for (const name of ['requestTimeoutMs', 'pollIntervalMs', 'pollTimeoutMs']) {
      assert.throws(() => createClient({ baseUrl: BASE, wx: new FakeWx(), [name]: bad }), new RegExp(name), `${name}=${bad}`);
    }
  }
  const fake = new FakeWx().withLogin().on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
  await assert.rejects(client(fake).waitForFinal('A-1001', { timeoutMs: '50' }), TypeError);
  assert.equal(fake.requests.length, 0, 'refused before any request');
});

test('a second pay of the same order while the first is under way shares it: one prepay, one sheet', async () => {
  const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
  fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') }, { status: 200, body: orderJson('paid') });
  const c = client(fake);
  const [first, second] = await Promise.all([c.pay(SIGNED), c.pay({ orderToken: ORDER_TOKEN })]);
  assert.equal(first, second);
  assert.equal(first.status, 'paid');
  assert.equal(fake.calls('POST', '/prepay').length, 1);
  assert.equal(fake.payments.length, 1);
  // Once settled, paying again is a new call (here the server says paid already).
  fake.on('POST', '/prepay', { status: 409, body: { error: { code: 'already_paid', message: 'The order is paid already.' } } });
  assert.equal((await c.pay(SIGNED)).status, 'paid');
  assert.equal(fake.calls('POST', '/prepay').length, 2);
});

test('409 already_paid resolves with the order when the server says paid or review, else rejects', async () => {
  const paidAlready = { status: 409, body: { error: { code: 'already_paid', message: 'The order is paid already.' } } };
  // The token's orderId claim (A-1001) finds the order; the client-priced order names it itself.
  for (const order of [SIGNED, ORDER]) {
    for (const status of ['paid', 'review']) {
      const fake = new FakeWx().withLogin().on('POST', '/prepay', paidAlready);
      fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson(status) });
      assert.equal((await client(fake).pay(order)).status, status);
      assert.equal(fake.payments.length, 0, 'no payment sheet');
    }
  }
  const odd = new FakeWx().withLogin().on('POST', '/prepay', paidAlready);
  odd.on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
  assert.equal((await rejectsWith(client(odd).pay(SIGNED), 'already_paid')).status, 409);
  const opaque = new FakeWx().withLogin().on('POST', '/prepay', paidAlready);
  assert.equal((await rejectsWith(client(opaque).pay({ orderToken: 'not-a-jwt' }), 'already_paid')).status, 409);
  assert.equal(opaque.calls('GET', '/orders/A-1001').length, 0, 'no orderId to ask about');
});

test('the module writes nothing to the console (no token can leak there)', async () => {
  const seen = [];
  const saved = {};
  for (const name of ['log', 'info', 'warn', 'error', 'debug']) {
    saved[name] = console[name];
    console[name] = (...args) => seen.push(args.join(' '));
  }
  try {
    const fake = new FakeWx().withLogin().on('POST', '/prepay', { status: 200, body: prepayJson() });
    fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('paid') });
    await client(fake).pay(ORDER);
    fake.paymentResult = { ok: false, errMsg: 'requestPayment:fail cancel' };
    fake.on('GET', '/orders/A-1001', { status: 200, body: orderJson('pending') });
    await client(fake).pay(ORDER).catch(() => {});
  } finally {
    Object.assign(console, saved);
  }
  assert.deepEqual(seen, []);
});

// ------------------------------------------------------------------------------- packaging and example

test('as a plain <script> it defines WechatPayments and falls back to the global wx', async () => {
  const source = fs.readFileSync(MODULE_PATH, 'utf8');
  const fake = new FakeWx().withLogin();
  const context = vm.createContext({ setTimeout, clearTimeout, wx: fake });
  context.self = context; // a browser window is its own `self`
  vm.runInContext(source, context, { filename: 'payments.js' });
  assert.equal(typeof context.WechatPayments.createClient, 'function');
  assert.equal(typeof context.WechatPayments.PaymentError, 'function');
  const c = context.WechatPayments.createClient({ baseUrl: BASE });
  const who = await c.login();
  assert.equal(who.openid, 'o-alice');
  assert.equal(fake.calls('POST', '/openid').length, 1);
});

test('createClient insists on a baseUrl', () => {
  assert.throws(() => createClient({ wx: new FakeWx() }), /baseUrl/);
});

/**
 * Loads the example page as WeChat would; its `require('../../utils/payments.js')` gets this module.
 * `settings` overrides app.js's globalData (the API base URL always points at the fake).
 */
function loadExamplePage(fake, settings) {
  const dir = path.join(__dirname, '..', 'example');
  const appSource = fs.readFileSync(path.join(dir, 'app.js'), 'utf8');
  let appConfig;
  vm.runInNewContext(appSource, { App: (config) => { appConfig = config; }, wx: fake, console });
  const defaults = Object.assign({}, appConfig.globalData);
  Object.assign(appConfig.globalData, settings);

  const warnings = [];
  const pageConsole = { log() {}, info() {}, error() {}, debug() {}, warn: (...args) => warnings.push(args.join(' ')) };
  const pageSource = fs.readFileSync(path.join(dir, 'pages', 'pay', 'pay.js'), 'utf8');
  let pageConfig;
  const required = [];
  vm.runInNewContext(pageSource, {
    Page: (config) => { pageConfig = config; },
    getApp: () => appConfig,
    wx: fake,
    console: pageConsole,
    setTimeout,
    clearTimeout,
    require: (request) => {
      required.push(request);
      if (request !== '../../utils/payments.js') throw new Error('unexpected require ' + request);
      // Evaluated the way WeChat would: as a CommonJS module that sees the global `wx`.
      const module = { exports: {} };
      vm.runInNewContext(fs.readFileSync(MODULE_PATH, 'utf8'), { module, exports: module.exports, wx: fake, setTimeout, clearTimeout });
      return module.exports;
    },
  });
  const page = Object.create(pageConfig);
  page.data = JSON.parse(JSON.stringify(pageConfig.data));
  page.setData = (patch) => Object.assign(page.data, patch);
  return { page, required, dir, defaults, warnings };
}

test('the example app.js: the API on the merchant\'s own domain, a merchant API, sandbox login off', () => {
  const { defaults } = loadExamplePage(new FakeWx(), {});
  assert.match(defaults.apiBaseUrl, /^https:\/\//, 'app.js holds the API base URL, HTTPS');
  assert.doesNotMatch(defaults.apiBaseUrl, /execute-api|amazonaws/, 'WeChat only takes the merchant\'s own ICP-filed domain');
  assert.match(defaults.merchantApiUrl, /^https:\/\/shop\.example\.com\//, 'a placeholder for the merchant\'s own API');
  assert.equal(defaults.sandboxLoginCode, '', 'the sandbox login is off unless asked for');
});

test('the example page gets the order token from the merchant\'s API and pays it', async () => {
  const fake = new FakeWx().withLogin();
  fake.on('POST', '/prepay', { status: 200, body: Object.assign(prepayJson(), { orderId: 'PLACEHOLDER' }) });
  const { page, required, dir, warnings } = loadExamplePage(fake, { apiBaseUrl: BASE, merchantApiUrl: 'https://shop.example.test/api' });
  assert.deepEqual(required, ['../../utils/payments.js']);

  page.onLoad();
  const orderId = page.data.orderId;
  assert.match(orderId, /^[A-Za-z0-9_-]{1,64}$/);
  assert.equal(page.data.sandbox, false);
  assert.deepEqual(warnings, []);
  fake.on('GET', `/api/orders/${orderId}/token`, { status: 200, body: { orderToken: ORDER_TOKEN } });
  fake.on('POST', '/prepay', { status: 200, body: Object.assign(prepayJson(), { orderId }) });
  fake.on('GET', '/orders/' + orderId, { status: 200, body: orderJson('paid', { orderId }) });
  await page.onPay();
  assert.equal(page.data.status, 'paid', page.data.message);
  assert.equal(page.data.paying, false);
  assert.equal(page.data.lastOrderId, orderId);
  assert.deepEqual(JSON.parse(JSON.stringify(page.data.item)), { orderId, amount: '12.50', currency: 'SGD', description: 'Latte x2' }, 'the price shown is the server\'s');
  assert.notEqual(page.data.orderId, orderId, 'a fresh orderId for the next order');

  const [tokenCall] = fake.calls('GET', `/api/orders/${orderId}/token`);
  assert.equal(tokenCall.url, `https://shop.example.test/api/orders/${orderId}/token`);
  assert.equal(tokenCall.header && tokenCall.header.Authorization, undefined, 'the session token never goes to the merchant');
  assert.deepEqual(fake.calls('POST', '/prepay')[0].body, { orderToken: ORDER_TOKEN }, 'the page sends no price');
  assert.deepEqual(fake.calls('POST', '/openid')[0].body, { code: 'code-1' }, 'the real wx.login code');

  // "Check status" asks the server about the last order.
  fake.on('GET', '/orders/' + orderId, { status: 200, body: orderJson('review', { orderId }) });
  await page.onCheck();
  assert.equal(page.data.status, 'review');

  // A failure shows the error code and the server's message.
  const second = page.data.orderId;
  fake.on('GET', `/api/orders/${second}/token`, { status: 200, body: { orderToken: ORDER_TOKEN } });
  fake.on('POST', '/prepay', { status: 409, body: { error: { code: 'already_paid', message: 'The order is paid already.' } } });
  await page.onPay();
  assert.equal(page.data.status, 'already_paid');
  assert.equal(page.data.message, 'The order is paid already.');

  // The merchant's API failing is shown too, and nothing is prepaid.
  const third = page.data.orderId;
  const prepays = fake.calls('POST', '/prepay').length;
  fake.on('GET', `/api/orders/${third}/token`, { status: 503, body: 'Service Unavailable' });
  await page.onPay();
  assert.equal(page.data.status, 'merchant_error');
  assert.match(page.data.message, /503/);
  assert.equal(fake.calls('POST', '/prepay').length, prepays);

  // Every handler the template binds exists on the page, and the JSON files parse.
  const wxml = fs.readFileSync(path.join(dir, 'pages', 'pay', 'pay.wxml'), 'utf8');
  const handlers = [...wxml.matchAll(/bind(?:tap|input|change)="(\w+)"/g)].map((m) => m[1]);
  assert.ok(handlers.includes('onPay'));
  assert.ok(handlers.includes('onCheck'));
  for (const name of handlers) assert.equal(typeof page[name], 'function', `pay.js lacks ${name}`);
  assert.doesNotMatch(wxml, /data-field="(amount|currency|description)"/, 'the price is not an input of the mini program');
  for (const file of ['project.config.json', 'app.json', 'pages/pay/pay.json']) {
    JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  }
  const appJson = JSON.parse(fs.readFileSync(path.join(dir, 'app.json'), 'utf8'));
  assert.deepEqual(appJson.pages, ['pages/pay/pay']);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'project.config.json'), 'utf8')).appid, 'touristappid');
});

test('with SANDBOX_LOGIN_CODE the example logs in with it and gets its order from the sandbox', async () => {
  const fake = new FakeWx().withLogin();
  const { page, warnings } = loadExamplePage(fake, { apiBaseUrl: BASE, sandboxLoginCode: 'sandbox-devtools' });
  page.onLoad();
  const orderId = page.data.orderId;
  assert.equal(page.data.sandbox, true);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /sandbox-devtools/);
  fake.on('POST', '/sandbox/orders', { status: 200, body: { orderToken: ORDER_TOKEN } });
  fake.on('POST', '/prepay', { status: 200, body: Object.assign(prepayJson(), { orderId }) });
  fake.on('GET', '/orders/' + orderId, { status: 200, body: orderJson('paid', { orderId }) });
  await page.onPay();
  assert.equal(page.data.status, 'paid', page.data.message);

  assert.equal(fake.logins, 0, 'wx.login\'s own code is not used');
  assert.deepEqual(fake.calls('POST', '/openid').map((r) => r.body), [{ code: 'sandbox-devtools' }], 'one login, with the sandbox code');
  const [signing] = fake.calls('POST', '/sandbox/orders');
  assert.equal(signing.url, BASE + '/sandbox/orders');
  assert.deepEqual(signing.body, { sub: 'o-alice', orderId, amount: '12.50', currency: 'SGD', description: 'Latte x2' });
  assert.deepEqual(fake.calls('POST', '/prepay')[0].body, { orderToken: ORDER_TOKEN });
  assert.equal(fake.calls('POST', '/prepay')[0].header.Authorization, 'Bearer tok-0', 'the session of the sandbox login');
  assert.equal(fake.payments.length, 1, 'wx.requestPayment is still WeChat\'s own');
});
