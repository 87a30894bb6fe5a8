// payments.js under node's test runner, against a fake `wx` that scripts the server's answers.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { createClient, PaymentError } = require('../payments.js');

const PAYMENT = { timeStamp: '1795694400', nonceStr: 'n0nce', package: 'prepay_id=wx123', signType: 'HMAC-SHA256', paySign: 'SIGN', appId: 'kept-as-is' };

/** A scripted wx: routes answer by "METHOD /path"; every call is recorded. */
function fakeWx(routes, options = {}) {
  const calls = { request: [], login: 0, requestPayment: [] };
  const wx = {
    login({ success, fail }) {
      calls.login += 1;
      if (options.loginFails) fail({ errMsg: 'login:fail' });
      else success({ code: 'code-' + calls.login });
    },
    request(req) {
      calls.request.push(req);
      const path = req.url.replace('https://api.example.com', '');
      const route = routes[req.method + ' ' + path.replace(/\?.*$/, '')];
      if (!route) throw new Error('unexpected request ' + req.method + ' ' + path);
      const answer = typeof route === 'function' ? route(req, calls) : route;
      setImmediate(() => (answer.fail ? req.fail(answer.fail) : req.success(answer)));
    },
    requestPayment(params) {
      calls.requestPayment.push(params);
      const outcome = options.payment || { errMsg: 'requestPayment:ok' };
      setImmediate(() => (/fail/.test(outcome.errMsg) ? params.fail(outcome) : params.success(outcome)));
    },
  };
  return { wx, calls };
}

const loginOk = (req, calls) => ({ statusCode: 200, data: { openid: 'oAlice', token: 'token-' + calls.login, expiresIn: 7200 } });
const prepayOk = { statusCode: 200, data: { orderId: 'A-1', invoiceNo: 'INV1', status: 'pending', amount: '12.50', currency: 'SGD', payment: PAYMENT } };
const order = { orderId: 'A-1', amount: '12.50', currency: 'SGD', description: 'Latte x2' };
const client = (wx, extra) => createClient({ baseUrl: 'https://api.example.com/', wx, pollIntervalMs: 1, pollTimeoutMs: 200, ...extra });
const statusSequence = (...statuses) => {
  let i = 0;
  return () => ({ statusCode: 200, data: { orderId: 'A-1', status: statuses[Math.min(i++, statuses.length - 1)], failReason: 'Declined' } });
};

test('login sends the wx.login code and keeps the token', async () => {
  const { wx, calls } = fakeWx({ 'POST /openid': loginOk });
  const c = client(wx);
  const who = await c.login();
  assert.deepEqual(who, { openid: 'oAlice', expiresIn: 7200 });
  assert.equal(JSON.parse(calls.request[0].data).code, 'code-1');
  assert.equal(c.openid, 'oAlice');
});

test('prepay sends the bearer token and the order, logging in first', async () => {
  const { wx, calls } = fakeWx({ 'POST /openid': loginOk, 'POST /prepay': prepayOk });
  const answer = await client(wx).prepay(order);
  assert.equal(answer.invoiceNo, 'INV1');
  const prepay = calls.request[1];
  assert.equal(prepay.header.Authorization, 'Bearer token-1');
  assert.deepEqual(JSON.parse(prepay.data), order);
  assert.equal(prepay.url, 'https://api.example.com/prepay', 'one slash between base and path');
});

test('pay runs the whole flow and resolves with the server status, not the callback', async () => {
  const { wx, calls } = fakeWx({ 'POST /openid': loginOk, 'POST /prepay': prepayOk, 'GET /orders/A-1': statusSequence('pending', 'pending', 'paid') });
  const final = await client(wx).pay(order);
  assert.equal(final.status, 'paid');
  assert.equal(calls.request.filter((r) => r.method === 'GET').length, 3, 'polled until final');
  const { success, fail, ...params } = calls.requestPayment[0];
  assert.deepEqual(params, PAYMENT, 'the payment object goes to wx.requestPayment unchanged, extra keys included');
  assert.equal(typeof success, 'function');
});

test('orderId is encoded into the path', async () => {
  const { wx, calls } = fakeWx({ 'POST /openid': loginOk, 'GET /orders/A%2F1': { statusCode: 404, data: { error: { code: 'not_found', message: 'No such order.' } } } });
  await assert.rejects(client(wx).getOrder('A/1'), { code: 'not_found', status: 404 });
  assert.equal(calls.request[1].url, 'https://api.example.com/orders/A%2F1');
});

test('a cancelled payment rejects with cancelled after one status check', async () => {
  const { wx, calls } = fakeWx(
    { 'POST /openid': loginOk, 'POST /prepay': prepayOk, 'GET /orders/A-1': statusSequence('pending') },
    { payment: { errMsg: 'requestPayment:fail cancel' } }
  );
  await assert.rejects(client(wx).pay(order), (e) => e instanceof PaymentError && e.code === 'cancelled' && e.order.status === 'pending');
  assert.equal(calls.request.filter((r) => r.method === 'GET').length, 1);
});

test('a cancel on an order the server says is paid resolves paid', async () => {
  const { wx } = fakeWx(
    { 'POST /openid': loginOk, 'POST /prepay': prepayOk, 'GET /orders/A-1': statusSequence('paid') },
    { payment: { errMsg: 'requestPayment:fail cancel' } }
  );
  assert.equal((await client(wx).pay(order)).status, 'paid');
});

test('other requestPayment failures are payment_failed with the detail and the server status', async () => {
  const { wx } = fakeWx(
    { 'POST /openid': loginOk, 'POST /prepay': prepayOk, 'GET /orders/A-1': statusSequence('failed') },
    { payment: { errMsg: 'requestPayment:fail no balance' } }
  );
  await assert.rejects(client(wx).pay(order), (e) => e.code === 'payment_failed' && e.detail === 'requestPayment:fail no balance' && e.order.status === 'failed');
});

test('a failed status check after a sheet failure keeps the original error', async () => {
  const { wx } = fakeWx(
    { 'POST /openid': loginOk, 'POST /prepay': prepayOk, 'GET /orders/A-1': { fail: { errMsg: 'request:fail offline' } } },
    { payment: { errMsg: 'requestPayment:fail cancel' } }
  );
  await assert.rejects(client(wx).pay(order), (e) => e.code === 'cancelled' && e.order === undefined);
});

test('a final failed status rejects with rejected and the order', async () => {
  const { wx } = fakeWx({ 'POST /openid': loginOk, 'POST /prepay': prepayOk, 'GET /orders/A-1': statusSequence('failed') });
  await assert.rejects(client(wx).pay(order), (e) => e.code === 'rejected' && e.order.status === 'failed' && /Declined/.test(e.message));
});

test('review resolves: the money arrived and a person looks at it', async () => {
  const { wx } = fakeWx({ 'POST /openid': loginOk, 'POST /prepay': prepayOk, 'GET /orders/A-1': statusSequence('review') });
  assert.equal((await client(wx).pay(order)).status, 'review');
});

test('network failures are network errors; wx timeouts are timeout', async () => {
  const down = fakeWx({ 'POST /openid': { fail: { errMsg: 'request:fail net::ERR_CONNECTION_REFUSED' } } });
  await assert.rejects(client(down.wx).login(), { code: 'network' });
  const slow = fakeWx({ 'POST /openid': { fail: { errMsg: 'request:fail timeout' } } });
  await assert.rejects(client(slow.wx).login(), { code: 'timeout' });
});

test('server errors carry their code, status and message; a string body is parsed', async () => {
  const { wx } = fakeWx({
    'POST /openid': loginOk,
    'POST /prepay': { statusCode: 409, data: JSON.stringify({ error: { code: 'order_conflict', message: 'taken' } }) },
  });
  await assert.rejects(client(wx).prepay(order), { code: 'order_conflict', status: 409, message: 'taken' });
});

test('polling gives up with timeout', async () => {
  const { wx } = fakeWx({ 'POST /openid': loginOk, 'POST /prepay': prepayOk, 'GET /orders/A-1': statusSequence('pending') });
  await assert.rejects(client(wx, { pollTimeoutMs: 20, pollIntervalMs: 5 }).pay(order), (e) => e.code === 'timeout' && e.order.status === 'pending');
});

test('a 401 logs in again once and retries', async () => {
  let prepays = 0;
  const { wx, calls } = fakeWx({
    'POST /openid': loginOk,
    'POST /prepay': () => (++prepays === 1 ? { statusCode: 401, data: { error: { code: 'unauthorized', message: 'expired' } } } : prepayOk),
  });
  const answer = await client(wx).prepay(order);
  assert.equal(answer.invoiceNo, 'INV1');
  assert.equal(calls.login, 2);
  assert.equal(calls.request[3].header.Authorization, 'Bearer token-2');
});

test('a second 401 is not retried forever', async () => {
  const { wx, calls } = fakeWx({ 'POST /openid': loginOk, 'POST /prepay': { statusCode: 401, data: { error: { code: 'unauthorized', message: 'no' } } } });
  await assert.rejects(client(wx).prepay(order), { code: 'unauthorized' });
  assert.equal(calls.login, 2);
});

test('wx.login failure is login_failed; missing config is refused', async () => {
  const { wx } = fakeWx({}, { loginFails: true });
  await assert.rejects(client(wx).login(), { code: 'login_failed' });
  assert.throws(() => createClient({ wx }), { code: 'invalid_config' });
});

test('the DevTools example carries an identical copy of the module', () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const read = (p) => fs.readFileSync(path.join(__dirname, '..', p), 'utf8');
  assert.equal(read('example/utils/payments.js'), read('payments.js'), 'copy miniprogram/payments.js to example/utils/');
});
