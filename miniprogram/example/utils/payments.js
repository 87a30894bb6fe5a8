/*
 * WeChat Mini Program client for the 2C2P payments backend.
 *
 * Copy this file into your mini program (for example utils/payments.js) and:
 *
 *   const { createClient } = require('../../utils/payments.js');
 *   const client = createClient({ baseUrl: 'https://abc123.execute-api.ap-southeast-1.amazonaws.com' });
 *   const order = await client.pay({ orderId: 'A-1001', amount: '12.50', currency: 'SGD', description: 'Latte x2' });
 *   // order.status === 'paid' (or 'review'); otherwise pay() rejects with a PaymentError
 *
 * The wx.requestPayment success callback is never taken as proof of payment: pay() always asks the
 * server (GET /orders/{orderId}) for the authoritative status, which only 2C2P's signed
 * notification moves to `paid`.
 *
 * Errors are PaymentError with a `code`:
 *   network         wx.request failed (no connection, DNS, TLS)
 *   timeout         the order did not reach a final status in time (it may still; ask again later)
 *   cancelled       the user closed the WeChat payment sheet (err.order: the order's status then)
 *   payment_failed  WeChat refused the payment (err.detail has WeChat's errMsg, err.order the order)
 *   rejected        the order ended `failed` or `expired` (err.order has it)
 *   login_failed    wx.login itself failed
 *   <server code>   any error code of the API (invalid_request, order_conflict, already_paid,
 *                   unauthorized, upstream_error, ...), with err.status and the server's message
 *
 * Works in WeChat (CommonJS, the global `wx`) and in a browser page (window.WechatPayments), with
 * no build step. Tokens are kept in memory only and never logged.
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.WechatPayments = factory();
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  var FINAL_STATUSES = ['paid', 'failed', 'expired', 'review'];

  class PaymentError extends Error {
    constructor(code, message, extra) {
      super(message);
      this.name = 'PaymentError';
      this.code = code;
      Object.assign(this, extra || {});
    }
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function parseBody(data) {
    if (typeof data !== 'string') return data;
    try { return JSON.parse(data); } catch (e) { return data; }
  }

  function createClient(options) {
    var opts = Object.assign(
      { requestTimeoutMs: 10000, pollIntervalMs: 1500, pollTimeoutMs: 60000 },
      options || {}
    );
    var wxApi = opts.wx || (typeof wx !== 'undefined' ? wx : null);
    if (!opts.baseUrl) throw new PaymentError('invalid_config', 'createClient needs a baseUrl');
    if (!wxApi) throw new PaymentError('invalid_config', 'createClient needs the wx object');
    var baseUrl = String(opts.baseUrl).replace(/\/+$/, '');
    var session = null; // { token, openid, expiresAt }

    function request(method, path, data, token) {
      return new Promise(function (resolve, reject) {
        var header = { 'content-type': 'application/json' };
        if (token) header.Authorization = 'Bearer ' + token;
        wxApi.request({
          url: baseUrl + path,
          method: method,
          header: header,
          data: data === undefined ? undefined : JSON.stringify(data),
          timeout: opts.requestTimeoutMs,
          success: function (res) {
            var body = parseBody(res.data);
            if (res.statusCode >= 200 && res.statusCode < 300) {
              resolve(body);
              return;
            }
            var error = body && body.error ? body.error : {};
            reject(new PaymentError(
              error.code || 'http_' + res.statusCode,
              error.message || 'The server answered HTTP ' + res.statusCode + '.',
              { status: res.statusCode }
            ));
          },
          fail: function (err) {
            var detail = err && err.errMsg ? err.errMsg : String(err);
            var code = /timeout/i.test(detail) ? 'timeout' : 'network';
            reject(new PaymentError(code, 'The request to ' + path + ' failed: ' + detail, { detail: detail }));
          },
        });
      });
    }

    function wxLogin() {
      return new Promise(function (resolve, reject) {
        wxApi.login({
          success: function (res) {
            if (res && res.code) resolve(res.code);
            else reject(new PaymentError('login_failed', 'wx.login gave no code.'));
          },
          fail: function (err) {
            reject(new PaymentError('login_failed', 'wx.login failed: ' + (err && err.errMsg), { detail: err && err.errMsg }));
          },
        });
      });
    }

    async function login() {
      var code = await wxLogin();
      var answer = await request('POST', '/openid', { code: code });
      session = {
        token: answer.token,
        openid: answer.openid,
        expiresAt: Date.now() + (answer.expiresIn || 0) * 1000,
      };
      var result = { openid: answer.openid, expiresIn: answer.expiresIn };
      if (answer.unionid) result.unionid = answer.unionid;
      return result;
    }

    async function ensureSession() {
      // Renew a minute early so a request never carries a token that expires on the way.
      if (!session || Date.now() >= session.expiresAt - 60000) await login();
      return session.token;
    }

    /** Calls the API with the session token; logs in again once if the server says unauthorized. */
    async function authorized(method, path, data) {
      var token = await ensureSession();
      try {
        return await request(method, path, data, token);
      } catch (error) {
        if (error.code !== 'unauthorized') throw error;
        session = null;
        return request(method, path, data, await ensureSession());
      }
    }

    function prepay(order) {
      return authorized('POST', '/prepay', {
        orderId: order.orderId,
        amount: order.amount,
        currency: order.currency,
        description: order.description,
      });
    }

    function getOrder(orderId) {
      return authorized('GET', '/orders/' + encodeURIComponent(orderId));
    }

    async function waitForFinal(orderId, waitOptions) {
      var timeoutMs = (waitOptions && waitOptions.timeoutMs) || opts.pollTimeoutMs;
      var deadline = Date.now() + timeoutMs;
      for (;;) {
        var order = await getOrder(orderId);
        if (FINAL_STATUSES.indexOf(order.status) >= 0) return order;
        if (Date.now() + opts.pollIntervalMs > deadline) {
          throw new PaymentError('timeout', 'The order was still ' + order.status + ' after ' + timeoutMs + ' ms; ask again later.', { order: order });
        }
        await sleep(opts.pollIntervalMs);
      }
    }

    function requestPayment(payment) {
      return new Promise(function (resolve, reject) {
        var params = Object.assign({}, payment, {
          success: function (res) { resolve(res); },
          fail: function (err) {
            var detail = (err && err.errMsg) || 'requestPayment:fail';
            if (/cancel/.test(detail)) reject(new PaymentError('cancelled', 'The payment was cancelled.', { detail: detail }));
            else reject(new PaymentError('payment_failed', 'WeChat did not take the payment: ' + detail, { detail: detail }));
          },
        });
        wxApi.requestPayment(params);
      });
    }

    /** The whole flow: log in if needed, prepay, wx.requestPayment, then the server's final word. */
    async function pay(order) {
      var prepaid = await prepay(order);
      try {
        await requestPayment(prepaid.payment);
      } catch (error) {
        // The server is authoritative: a payment can complete even when the sheet reports a failure,
        // so ask once and hand the order's status back with the error.
        var current = await getOrder(order.orderId).catch(function () { return null; });
        if (current && (current.status === 'paid' || current.status === 'review')) return current;
        if (current) error.order = current;
        throw error;
      }
      var final = await waitForFinal(order.orderId);
      if (final.status === 'failed' || final.status === 'expired') {
        throw new PaymentError('rejected', 'The payment ended ' + final.status + (final.failReason ? ': ' + final.failReason : '.'), { order: final });
      }
      return final;
    }

    return {
      login: login,
      prepay: prepay,
      getOrder: getOrder,
      waitForFinal: waitForFinal,
      pay: pay,
      get openid() { return session ? session.openid : null; },
    };
  }

  return { createClient: createClient, PaymentError: PaymentError, FINAL_STATUSES: FINAL_STATUSES };
});
