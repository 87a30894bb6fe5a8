/*
 * payments.js: the mini-program side of the WeChat Pay (through 2C2P) backend.
 *
 * No dependencies, no build step, ES2017. Under WeChat it is a CommonJS module and uses the global
 * `wx` (or the one passed to createClient); loaded by a plain <script> tag it defines
 * `window.WechatPayments`. Copy it into your mini program, e.g. as utils/payments.js:
 *
 *   const { createClient } = require('../../utils/payments.js');
 *   const client = createClient({ baseUrl: 'https://pay.shop.example.com' }); // your own ICP-filed domain
 *   const orderToken = ...;  // from your merchant backend, which prices and signs the order (a JWT)
 *   const order = await client.pay({ orderToken });
 *
 * The price comes from the merchant's backend, never from the mini program: pay({ orderToken }) is the
 * normal call. pay({ orderId, amount, currency, description }) sends the order itself and only works
 * against a backend running with CLIENT_PRICING=true (tests, donations, tips). Passing both forms, or
 * neither, rejects with `invalid_request` before any request is made.
 *
 * pay() logs in when needed, asks POST /prepay for the wx.requestPayment parameters, opens WeChat's
 * payment sheet, then asks GET /orders/{orderId} until the order is final (with an order token, the
 * orderId is the one POST /prepay answers). The sheet's success callback is never taken as proof of
 * payment; only the server's status counts.
 *
 *   resolves with the order JSON when its status is `paid`, or `review` (money arrived but a person
 *            must check it, e.g. a different amount or a double payment: do not fulfil automatically)
 *   rejects  with a PaymentError whose `code` is one of
 *     network         wx.request failed (offline, DNS, TLS, the request timed out); err.detail has errMsg
 *     timeout         the order was not final within pollTimeoutMs; err.order is the last one seen (it
 *                     may still turn paid: ask getOrder later). After the sheet said ok, `expired` is
 *                     not final (the money may be on its way): such an order ends here, not in rejected
 *     cancelled       the user closed the payment sheet; err.order is the status checked afterwards
 *     payment_failed  WeChat reported a failure other than cancel; err.detail has errMsg, err.order the
 *                     status checked afterwards
 *     rejected        the order ended `failed`; err.order has it (failReason included)
 *     login_failed    wx.login itself failed or gave no code
 *     bad_response    the server answered 2xx with something that is not the expected JSON
 *     http_error      the server answered an error without our error JSON (e.g. a gateway's own 429)
 *     invalid_request also raised by the client itself, before any request and without err.status, when
 *                     pay/prepay get both an orderToken and order fields, neither, an orderToken that
 *                     is not a non-empty string, or an amount that is not a string
 *     <server code>   the API's error JSON {"error":{"code","message"}}: invalid_request, unauthorized,
 *                     invalid_code, login_blocked, invalid_order_token, forbidden, not_found,
 *                     order_conflict, already_paid, payload_too_large, rate_limited, payment_rejected,
 *                     upstream_error, upstream_timeout, internal; err.message is the server's message
 *   Every error from an HTTP answer carries err.status (the HTTP status).
 *
 * After `cancelled` or `payment_failed` the server is asked once more (after a failure other than
 * cancel, a pending order is watched for up to 5 s): if the order is nevertheless `paid` (or `review`),
 * pay() resolves with it, because money that arrived is never dropped. wx.login is bounded by
 * requestTimeoutMs like every request. So does a
 * 409 `already_paid` from POST /prepay: pay() reads the order (its orderId from the order token's
 * claims, read only for that) and resolves with it when it is `paid` or `review`.
 *
 * A second pay() of the same order while the first is under way (a double tap) gets the first one's
 * promise: one prepay, one payment sheet. Duration options must be numbers of milliseconds above 0.
 *
 * The session token lives in memory only, is renewed shortly before it expires and once after a 401
 * `unauthorized`, and is never logged or put into an error. This module logs nothing.
 */
(function (root, factory) {
  if (typeof module === 'object' && module && module.exports) {
    module.exports = factory();
  } else {
    root.WechatPayments = factory();
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  /** Statuses after which polling stops. `pending` is the only other status of the contract. */
  const FINAL_STATUSES = Object.freeze(['paid', 'failed', 'expired', 'review']);
  /**
   * After the payment sheet said ok, `expired` is not an answer: the money may be on its way (a late
   * notification, a reconciliation), so pay() keeps asking until one of these or its deadline.
   */
  const SETTLED_AFTER_SHEET = Object.freeze(['paid', 'failed', 'review']);
  /** How long pay() watches a pending order after a payment sheet failure other than cancel. */
  const SHEET_FAILURE_WAIT_MS = 5000;
  /** Renew the token this long before it expires (at most a quarter of its lifetime). */
  const RENEW_MARGIN_MS = 30000;
  /** The fields of a client-priced order (CLIENT_PRICING=true backends only). */
  const CLIENT_PRICED_FIELDS = Object.freeze(['orderId', 'amount', 'currency', 'description']);

  class PaymentError extends Error {
    constructor(code, message, extra) {
      super(message);
      // Keeps `instanceof` working when a build tool compiles classes down to ES5.
      Object.setPrototypeOf(this, PaymentError.prototype);
      this.name = 'PaymentError';
      this.code = code;
      if (extra) {
        Object.keys(extra).forEach((key) => {
          if (extra[key] !== undefined) this[key] = extra[key];
        });
      }
    }
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** A duration option: undefined gives the default; anything but a finite number above 0 is refused. */
  function durationMs(name, value, fallback) {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !isFinite(value) || value <= 0) {
      throw new TypeError(`${name} must be a number of milliseconds above 0, got ${String(value)}`);
    }
    return value;
  }

  /** base64url to a string of bytes (no atob in every mini-program runtime). */
  function base64UrlBytes(text) {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let bits = 0;
    let value = 0;
    let out = '';
    for (const ch of text) {
      const digit = alphabet.indexOf(ch);
      if (digit < 0) return null;
      value = (value << 6) | digit;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += String.fromCharCode((value >> bits) & 0xff);
      }
    }
    return out;
  }

  /**
   * The orderId claim of a merchant's order token, read without checking its signature: only to look
   * the order up after 409 already_paid (the server checks who may read it). null when unreadable.
   */
  function orderIdOfToken(token) {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const bytes = base64UrlBytes(parts[1]);
    if (bytes === null) return null;
    try {
      const claims = JSON.parse(bytes);
      return isObject(claims) && typeof claims.orderId === 'string' && claims.orderId ? claims.orderId : null;
    } catch (e) {
      return null;
    }
  }

  function isObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  /** wx.request hands over parsed JSON or a string, depending on the content type and dataType. */
  function parseBody(data) {
    if (typeof data !== 'string') return data;
    try {
      return JSON.parse(data);
    } catch (e) {
      return data;
    }
  }

  function errMsgOf(err) {
    if (err && typeof err.errMsg === 'string') return err.errMsg;
    if (err && typeof err.message === 'string') return err.message;
    return String(err);
  }

  /** Worth asking again while polling: the connection, the gateway or an upstream had a bad moment. */
  function isTransient(error) {
    return error instanceof PaymentError &&
      (error.code === 'network' || error.status === 429 || (error.status >= 500 && error.status <= 599));
  }

  function createClient(options) {
    const opts = options || {};
    if (typeof opts.baseUrl !== 'string' || !opts.baseUrl) {
      throw new TypeError('createClient: baseUrl is required (the API base URL, e.g. https://api.example.com)');
    }
    const baseUrl = opts.baseUrl.replace(/\/+$/, '');
    // A string or NaN here would make a deadline that never comes, and polling that never ends.
    const requestTimeoutMs = durationMs('createClient: requestTimeoutMs', opts.requestTimeoutMs, 10000);
    const pollIntervalMs = durationMs('createClient: pollIntervalMs', opts.pollIntervalMs, 1500);
    const pollTimeoutMs = durationMs('createClient: pollTimeoutMs', opts.pollTimeoutMs, 60000);
    const now = typeof opts.now === 'function' ? opts.now : Date.now; // injectable for tests

    function wxApi() {
      const api = opts.wx || (typeof wx !== 'undefined' ? wx : undefined); // eslint-disable-line no-undef
      if (!api) throw new TypeError('createClient: no `wx` object (pass { wx } outside WeChat)');
      return api;
    }

    let session = null; // { token, expiresAt }; never leaves this closure
    let loginInFlight = null;

    /** One HTTP exchange through wx.request; resolves with the parsed 2xx body. */
    function send(method, path, body, token) {
      return new Promise((resolve, reject) => {
        const header = { Accept: 'application/json' };
        if (body !== undefined) header['Content-Type'] = 'application/json';
        if (token) header.Authorization = 'Bearer ' + token;
        const request = {
          url: baseUrl + path,
          method: method,
          header: header,
          timeout: requestTimeoutMs,
          success(res) {
            const status = res && res.statusCode;
            const data = parseBody(res && res.data);
            if (status >= 200 && status < 300) {
              if (isObject(data)) resolve(data);
              else reject(new PaymentError('bad_response', `${method} ${path} answered ${status} without a JSON object.`, { status }));
              return;
            }
            const error = isObject(data) && isObject(data.error) ? data.error : null;
            if (error && typeof error.code === 'string' && error.code) {
              const message = typeof error.message === 'string' && error.message ? error.message : `${method} ${path} answered ${status} ${error.code}.`;
              reject(new PaymentError(error.code, message, { status }));
            } else {
              reject(new PaymentError('http_error', `${method} ${path} answered HTTP ${status}.`, { status }));
            }
          },
          fail(err) {
            const detail = errMsgOf(err);
            reject(new PaymentError('network', `${method} ${path} did not reach the server: ${detail}`, { detail }));
          },
        };
        if (body !== undefined) request.data = JSON.stringify(body);
        wxApi().request(request);
      });
    }

    /** wx.login, bounded like a request: a login that never answers must not hold pay() for ever. */
    function wxLogin() {
      return new Promise((resolve, reject) => {
        let settled = false;
        const settle = (fn, value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          fn(value);
        };
        const timer = setTimeout(() => {
          settle(reject, new PaymentError('login_failed', `wx.login did not answer within ${requestTimeoutMs} ms.`));
        }, requestTimeoutMs);
        wxApi().login({
          timeout: requestTimeoutMs,
          success(res) {
            if (res && typeof res.code === 'string' && res.code) settle(resolve, res.code);
            else settle(reject, new PaymentError('login_failed', 'wx.login gave no code.'));
          },
          fail(err) {
            const detail = errMsgOf(err);
            settle(reject, new PaymentError('login_failed', 'wx.login failed: ' + detail, { detail }));
          },
        });
      });
    }

    async function doLogin() {
      const code = await wxLogin();
      const answer = await send('POST', '/openid', { code: code });
      if (typeof answer.token !== 'string' || !answer.token) {
        throw new PaymentError('bad_response', 'POST /openid answered without a token.', { status: 200 });
      }
      const expiresIn = Number(answer.expiresIn);
      const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : Infinity;
      const margin = Math.min(RENEW_MARGIN_MS, lifetimeMs / 4);
      session = { token: answer.token, expiresAt: now() + lifetimeMs - margin };
      const result = { openid: answer.openid, expiresIn: answer.expiresIn };
      if (answer.unionid !== undefined) result.unionid = answer.unionid;
      return result;
    }

    /** wx.login, then POST /openid. Concurrent callers share one login. */
    function login() {
      if (!loginInFlight) {
        const clear = () => { loginInFlight = null; };
        loginInFlight = doLogin();
        loginInFlight.then(clear, clear);
      }
      return loginInFlight;
    }

    async function currentToken() {
      if (!session || now() >= session.expiresAt) await login();
      return session.token;
    }

    /** A call with the bearer token; after a 401 `unauthorized`, logs in again and retries once. */
    async function authorized(method, path, body) {
      const token = await currentToken();
      try {
        return await send(method, path, body, token);
      } catch (error) {
        if (!(error instanceof PaymentError) || error.code !== 'unauthorized') throw error;
        if (session && session.token === token) session = null; // another call may have renewed it already
        return send(method, path, body, await currentToken());
      }
    }

    /**
     * The POST /prepay body for either form of order, or a PaymentError `invalid_request` (thrown before
     * anything is sent) when the argument is neither form, or both.
     */
    function prepayBody(order) {
      const o = isObject(order) ? order : {};
      const hasToken = o.orderToken !== undefined;
      const fields = CLIENT_PRICED_FIELDS.filter((key) => o[key] !== undefined);
      if (hasToken && fields.length) {
        // The token is the only source of the order; the API would refuse the mix as well.
        throw new PaymentError('invalid_request', `Pass either orderToken or the order's own fields, not both (got orderToken and ${fields.join(', ')}).`);
      }
      if (hasToken) {
        if (typeof o.orderToken !== 'string' || !o.orderToken) {
          throw new PaymentError('invalid_request', 'orderToken must be the non-empty string your merchant backend signed.');
        }
        return { orderToken: o.orderToken };
      }
      if (!fields.length) {
        throw new PaymentError('invalid_request', 'Pass { orderToken } (the order your merchant backend signed), or { orderId, amount, currency, description } for a CLIENT_PRICING backend.');
      }
      if (typeof o.amount !== 'string') {
        // A float cannot say 12.50 exactly; the API takes amounts as decimal strings only.
        throw new PaymentError('invalid_request', 'amount must be a decimal string such as "12.50".');
      }
      return { orderId: o.orderId, amount: o.amount, currency: o.currency, description: o.description };
    }

    /**
     * POST /prepay with { orderToken } or, for a CLIENT_PRICING backend, { orderId, amount, currency,
     * description }. Resolves with the contract's 200 body (orderId, invoiceNo, status, amount, currency,
     * payment).
     */
    function prepay(order) {
      let body;
      try {
        body = prepayBody(order);
      } catch (error) {
        return Promise.reject(error);
      }
      return authorized('POST', '/prepay', body);
    }

    /** GET /orders/{orderId}: the authoritative order. */
    function getOrder(orderId) {
      return authorized('GET', '/orders/' + encodeURIComponent(orderId));
    }

    /**
     * Polls getOrder until the status is final (paid, failed, expired, review) and resolves with that
     * order, whatever the status. Network trouble, 429 and 5xx answers are retried until the deadline;
     * other errors reject at once. Past the deadline: PaymentError `timeout` with the last order seen.
     */
    async function waitForFinal(orderId, waitOptions) {
      const limit = durationMs('waitForFinal: timeoutMs', waitOptions && waitOptions.timeoutMs, pollTimeoutMs);
      return waitFor(orderId, limit, FINAL_STATUSES);
    }

    async function waitFor(orderId, limit, statuses) {
      const deadline = now() + limit;
      let last;
      let lastError;
      for (;;) {
        try {
          last = await getOrder(orderId);
          lastError = undefined;
          if (statuses.indexOf(last.status) >= 0) return last;
        } catch (error) {
          if (!isTransient(error)) throw error;
          lastError = error;
        }
        const remaining = deadline - now();
        if (remaining <= 0) {
          const seen = last ? `still ${last.status}` : 'not readable';
          throw new PaymentError('timeout', `Order ${orderId} was ${seen} after ${limit} ms; ask again later.`, {
            order: last,
            cause: lastError,
          });
        }
        await sleep(Math.min(pollIntervalMs, remaining));
      }
    }

    /** wx.requestPayment with 2C2P's object passed through untouched; rejects with WeChat's error object. */
    function requestPayment(payment) {
      return new Promise((resolve, reject) => {
        const params = Object.assign({}, payment);
        params.success = resolve;
        params.fail = (err) => reject(err || {});
        wxApi().requestPayment(params);
      });
    }

    /** Payments under way, by order: a second pay() of the same order (a double tap) shares the first. */
    const payments = new Map();

    /** The whole flow; see the top of this file for what it resolves and rejects with. */
    function pay(order) {
      let body;
      try {
        body = prepayBody(order); // argument errors reject here, before any request
      } catch (error) {
        return Promise.reject(error);
      }
      const key = body.orderToken !== undefined ? 'token:' + body.orderToken : 'order:' + body.orderId;
      const running = payments.get(key);
      if (running) return running;
      const done = () => payments.delete(key);
      // Not .finally(): ES2017 is all this module asks of the runtime.
      const started = payOnce(body).then(
        (result) => {
          done();
          return result;
        },
        (error) => {
          done();
          throw error;
        }
      );
      payments.set(key, started);
      return started;
    }

    async function payOnce(body) {
      let prepaid;
      try {
        prepaid = await authorized('POST', '/prepay', body);
      } catch (error) {
        if (!(error instanceof PaymentError) || error.code !== 'already_paid') throw error;
        // Paid before (or in review): answer with the order itself, as a payment that just went through.
        const paidId = body.orderToken !== undefined ? orderIdOfToken(body.orderToken) : body.orderId;
        if (!paidId) throw error;
        let current;
        try {
          current = await getOrder(paidId);
        } catch (e) {
          throw error;
        }
        if (current && (current.status === 'paid' || current.status === 'review')) return current;
        throw error;
      }
      if (!isObject(prepaid.payment)) {
        throw new PaymentError('bad_response', 'POST /prepay answered without payment parameters.', { status: 200 });
      }
      // With a token the order is known from the server's answer only (the token is opaque here).
      const orderId = body.orderToken !== undefined ? prepaid.orderId : body.orderId;
      if (typeof orderId !== 'string' || !orderId) {
        throw new PaymentError('bad_response', 'POST /prepay answered without an orderId.', { status: 200 });
      }

      let sheetError = null;
      try {
        await requestPayment(prepaid.payment);
      } catch (err) {
        sheetError = err;
      }

      if (sheetError) {
        const detail = errMsgOf(sheetError);
        const cancelled = /cancel/i.test(detail);
        // The server decides: a payment can go through even though the sheet reports otherwise. After a
        // cancel one look is enough; after another failure (a sheet that timed out once the user had
        // confirmed, say) the money may land seconds later, so a pending order is watched a little.
        let current;
        try {
          current = cancelled
            ? await getOrder(orderId)
            : await waitFor(orderId, Math.min(pollTimeoutMs, SHEET_FAILURE_WAIT_MS), SETTLED_AFTER_SHEET);
        } catch (e) {
          current = e instanceof PaymentError && e.code === 'timeout' ? e.order : undefined; // else the sheet's word
        }
        if (current && (current.status === 'paid' || current.status === 'review')) return current;
        throw cancelled
          ? new PaymentError('cancelled', 'The payment was cancelled.', { detail, order: current })
          : new PaymentError('payment_failed', 'WeChat did not take the payment: ' + detail, { detail, order: current });
      }

      // requestPayment:ok only means the sheet closed happily; wait for the server's word.
      const final = await waitFor(orderId, pollTimeoutMs, SETTLED_AFTER_SHEET);
      if (final.status === 'failed') {
        const reason = final.failReason ? ': ' + final.failReason : '.';
        throw new PaymentError('rejected', `Order ${orderId} ended ${final.status}${reason}`, { order: final });
      }
      return final;
    }

    return { login, prepay, getOrder, waitForFinal, pay };
  }

  return { createClient, PaymentError, FINAL_STATUSES };
});
