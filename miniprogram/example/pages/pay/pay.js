// Pays one order through the backend with the client module.
// utils/payments.js is your copy of miniprogram/payments.js: WeChat's require() only reaches files
// inside the project folder, so copy it in first (cp ../payments.js utils/payments.js).
const { createClient } = require('../../utils/payments.js');

function newOrderId() {
  return 'MP-' + Date.now().toString(36).toUpperCase() + '-' + Math.random().toString(36).slice(2, 6).toUpperCase();
}

Page({
  data: {
    orderId: '',
    amount: '12.50',
    currency: 'SGD',
    description: 'Latte x2',
    paying: false,
    status: '',
    message: '',
    lastOrderId: '',
  },

  onLoad() {
    // One client per page is enough; it keeps the session token in memory.
    this.client = createClient({ baseUrl: getApp().globalData.apiBaseUrl });
    this.setData({ orderId: newOrderId() });
  },

  onInput(event) {
    this.setData({ [event.currentTarget.dataset.field]: event.detail.value });
  },

  async onPay() {
    const order = {
      orderId: this.data.orderId,
      amount: this.data.amount,
      currency: this.data.currency,
      description: this.data.description,
    };
    this.setData({ paying: true, status: 'pending', message: 'Waiting for WeChat Pay…', lastOrderId: order.orderId });
    try {
      // Resolves only once the server says paid (or review); never on the payment sheet's word alone.
      const final = await this.client.pay(order);
      this.setData({
        status: final.status,
        message: final.status === 'paid' ? 'Thank you!' : 'Payment received; we are checking it.',
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
});
