// One order, paid through the backend. utils/payments.js is a copy of miniprogram/payments.js
// (WeChat's require cannot reach outside the project folder; scripts/test checks the copy is identical).
const { createClient } = require('../../utils/payments.js');

const client = createClient({ baseUrl: getApp().globalData.apiBaseUrl });

Page({
  data: { paying: false, status: '', message: '' },

  async onPay() {
    this.setData({ paying: true, status: '', message: '' });
    const orderId = 'MP-' + Date.now();
    try {
      const order = await client.pay({ orderId, amount: '12.50', currency: 'SGD', description: 'Latte x2' });
      this.setData({ status: order.status, message: order.status === 'paid' ? 'Thank you!' : 'We are checking this payment.' });
    } catch (error) {
      const status = error.order ? error.order.status : error.code;
      this.setData({ status, message: error.message });
    } finally {
      this.setData({ paying: false });
    }
  },
});
