// Pays one order through the backend with the client module.
// utils/payments.js is your copy of miniprogram/payments.js: WeChat's require() only reaches files
// inside the project folder, so copy it in first (cp ../payments.js utils/payments.js).
//
// The price is never set here: the shop's own backend prices the order and signs it (the order token),
// and the page only passes that token on with pay({ orderToken }).
const { createClient } = require('../../utils/payments.js');

/** What the sandbox's stand-in merchant sells (only while SANDBOX_LOGIN_CODE is set). */
const SANDBOX_ITEM = { amount: '12.50', currency: 'SGD', description: 'Latte x2' };

function newOrderId() {
  return 'MP-' + Date.now().toString(36).toUpperCase() + '-' + Math.random().toString(36).slice(2, 6).toUpperCase();
}

function failure(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

/** wx.request as a promise of the 2xx JSON object; anything else rejects with a `code` and a message. */
function requestJson(options, what) {
  return new Promise((resolve, reject) => {
    wx.request(Object.assign({ timeout: 10000 }, options, {
      success(res) {
        let data = res.data;
        if (typeof data === 'string') {
          try { data = JSON.parse(data); } catch (e) { /* stays text */ }
        }
        const error = data && typeof data === 'object' && data.error && typeof data.error === 'object' ? data.error : null;
        if (res.statusCode >= 200 && res.statusCode < 300 && data && typeof data === 'object') resolve(data);
        else reject(failure(error && error.code ? error.code : 'merchant_error',
          (error && error.message) || `${what} answered HTTP ${res.statusCode}.`));
      },
      fail(err) {
        reject(failure('network', `${what} could not be reached: ${(err && err.errMsg) || err}`));
      },
    }));
  });
}

/**
 * A `wx` for the client that answers wx.login with the sandbox's login code instead of WeChat's
 * (DevTools' real codes are refused by the sandbox). Only used while SANDBOX_LOGIN_CODE is set.
 */
function sandboxWx(code) {
  return {
    login(options) { setTimeout(() => options.success({ code: code, errMsg: 'login:ok' }), 0); },
    request(options) { return wx.request(options); },
    requestPayment(options) { return wx.requestPayment(options); },
  };
}

Page({
  data: {
    orderId: '',
    item: null, // the order as the shop priced it: { orderId, amount, currency, description }
    sandbox: false,
    paying: false,
    status: '',
    message: '',
    lastOrderId: '',
  },

  onLoad() {
    const settings = getApp().globalData;
    this.settings = settings;
    if (settings.sandboxLoginCode) {
      console.warn(`SANDBOX_LOGIN_CODE is set: logging in as ${settings.sandboxLoginCode} (for the sandbox only)`);
    }
    // One client per page is enough; it keeps the session token in memory.
    this.client = createClient({
      baseUrl: settings.apiBaseUrl,
      wx: settings.sandboxLoginCode ? sandboxWx(settings.sandboxLoginCode) : undefined, // undefined: the real wx
    });
    this.setData({ orderId: newOrderId(), sandbox: !!settings.sandboxLoginCode });
  },

  onInput(event) {
    this.setData({ [event.currentTarget.dataset.field]: event.detail.value });
  },

  /** Resolves with { orderToken, item }: the order as the shop priced and signed it. */
  async fetchOrderToken(orderId) {
    if (this.settings.sandboxLoginCode) {
      // The sandbox plays the shop's backend: it signs an order for the logged-in sandbox user.
      const who = await this.client.login();
      const item = Object.assign({ orderId }, SANDBOX_ITEM);
      const answer = await requestJson({
        url: this.settings.apiBaseUrl + '/sandbox/orders',
        method: 'POST',
        header: { 'Content-Type': 'application/json' },
        data: JSON.stringify(Object.assign({ sub: who.openid }, item)),
      }, 'POST /sandbox/orders');
      return { orderToken: answer.orderToken, item };
    }
    // YOUR API (a placeholder: replace the URL and the answer's shape with your own). Your backend looks
    // the order up, prices it, and signs { orderId, amount, currency, description, exp, sub } with
    // ORDER_SIGNING_KEY (see the main README). Authenticate the shopper your own way here; never send
    // the payments API's session token to it.
    const answer = await requestJson({
      url: this.settings.merchantApiUrl + '/orders/' + encodeURIComponent(orderId) + '/token',
      method: 'GET',
    }, 'The shop');
    const item = typeof answer.amount === 'string'
      ? { orderId, amount: answer.amount, currency: answer.currency, description: answer.description }
      : null;
    return { orderToken: answer.orderToken, item };
  },

  async onPay() {
    const orderId = this.data.orderId;
    this.setData({ paying: true, status: 'pending', message: 'Asking the shop for the order…', lastOrderId: orderId, item: null });
    try {
      const signed = await this.fetchOrderToken(orderId);
      this.setData({ item: signed.item, message: 'Waiting for WeChat Pay…' });
      // Resolves only once the server says paid (or review); never on the payment sheet's word alone.
      const final = await this.client.pay({ orderToken: signed.orderToken });
      this.setData({
        status: final.status,
        message: final.status === 'paid' ? 'Thank you!' : 'Payment received; we are checking it.',
        item: { orderId: final.orderId, amount: final.amount, currency: final.currency, description: final.description },
        orderId: newOrderId(),
      });
    } catch (error) {
      // error.order (when present) is the server's view; otherwise show the error code.
      // The same orderId can be paid again: prepay hands back the open attempt or starts a new one.
      const finalOrder = error.order && error.order.status !== 'pending' ? error.order : null;
      this.setData({ status: finalOrder ? finalOrder.status : error.code || 'error', message: error.message });
    } finally {
      this.setData({ paying: false });
    }
  },

  /** Asks the server again about the last order (e.g. after confirming it by hand in the sandbox). */
  async onCheck() {
    const orderId = this.data.lastOrderId;
    if (!orderId || this.data.paying) return;
    try {
      const order = await this.client.getOrder(orderId);
      this.setData({ status: order.status, message: order.failReason || `Checked ${order.updatedAt || 'just now'}.` });
    } catch (error) {
      this.setData({ status: error.code || 'error', message: error.message });
    }
  },
});
