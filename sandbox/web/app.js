/* The sandbox page: drives miniprogram/payments.js exactly as a mini program page would. */
(function () {
  'use strict';
  var client = WechatPayments.createClient({ baseUrl: window.location.origin, wx: window.wx, pollIntervalMs: 500, pollTimeoutMs: 20000 });
  var $ = function (id) { return document.getElementById(id); };

  function log(text) {
    var item = document.createElement('li');
    item.textContent = new Date().toLocaleTimeString() + '  ' + text;
    $('log').prepend(item);
  }
  function showStatus(status, detail) {
    var el = $('status');
    el.textContent = status;
    el.dataset.status = status;
    el.className = 'status status-' + status;
    $('status-detail').textContent = detail || '';
  }
  function newOrderId() {
    $('order-id').value = 'DEMO-' + Math.random().toString(36).slice(2, 8).toUpperCase();
  }

  $('login').onclick = async function () {
    try {
      var who = await client.login();
      $('who').textContent = 'Logged in as ' + who.openid;
      log('POST /openid → openid ' + who.openid + ' (token valid ' + who.expiresIn + ' s)');
    } catch (error) {
      $('who').textContent = error.message;
      log('login failed: ' + error.code + ' — ' + error.message);
    }
  };

  $('pay').onclick = async function () {
    var order = {
      orderId: $('order-id').value.trim(),
      amount: $('amount').value.trim(),
      currency: $('currency').value,
      description: $('description').value,
    };
    $('pay').disabled = true;
    showStatus('paying', 'Waiting for you to confirm in the WeChat sheet…');
    log('pay ' + order.orderId + ': ' + order.amount + ' ' + order.currency);
    try {
      var final = await client.pay(order);
      showStatus(final.status, final.status === 'paid' ? 'Paid at ' + final.paidAt + ' (invoice ' + final.invoiceNo + ')' : '');
      log('GET /orders/' + order.orderId + ' → ' + final.status);
      newOrderId();
    } catch (error) {
      var status = error.order ? error.order.status : error.code;
      showStatus(status, error.message);
      log(order.orderId + ': ' + error.code + ' — ' + error.message);
      if (error.order) newOrderId();
    } finally {
      $('pay').disabled = false;
    }
  };

  newOrderId();
})();
