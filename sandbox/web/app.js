/*
 * The sandbox page's own logic: what a mini program page would do with payments.js. It uses only the
 * module's public API (WechatPayments.createClient) with the browser `wx` from wx-standin.js.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var ZERO_DECIMAL = { JPY: true, KRW: true, VND: true };
  var FINAL = WechatPayments.FINAL_STATUSES;

  var client = WechatPayments.createClient({
    baseUrl: window.location.origin,
    wx: window.wx,
    pollIntervalMs: 400,
    pollTimeoutMs: 20000,
  });

  function log(text, tone) {
    var item = document.createElement('li');
    if (tone) item.className = tone;
    var time = document.createElement('time');
    time.textContent = new Date().toLocaleTimeString([], { hour12: false });
    item.appendChild(time);
    item.appendChild(document.createTextNode(text));
    $('log').appendChild(item);
    $('log').scrollTop = $('log').scrollHeight;
  }
  window.addEventListener('wx-standin', function (event) { log(event.detail.text, event.detail.tone); });

  /** #status shows the order's status (or, when there is none to show, the error code). */
  function showStatus(status, detail, isError) {
    var el = $('status');
    el.textContent = status;
    el.setAttribute('data-status', status);
    el.classList.toggle('is-error', !!isError);
    $('status-detail').textContent = detail || '';
  }

  function newOrderId() {
    var bytes = new Uint8Array(3);
    crypto.getRandomValues(bytes);
    var hex = Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
    $('order-id').value = 'DEMO-' + hex.toUpperCase();
  }

  /** 2026-11-27T01:51:57.034Z → 2026-11-27 01:51:57 UTC (anything else is shown as given). */
  function readableTime(value) {
    var m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:Z|\+00:00)$/.exec(value || '');
    return m ? 'at ' + m[1] + ' ' + m[2] + ' UTC' : (value ? 'at ' + value : '');
  }

  function orderFromForm() {
    return {
      orderId: $('order-id').value.trim(),
      amount: $('amount').value.trim(),
      currency: $('currency').value,
      description: $('description').value,
    };
  }

  function showLogin(who) {
    $('who').setAttribute('data-state', 'in');
    $('who').textContent = 'Logged in as ' + who.openid + (who.unionid ? ' (unionid ' + who.unionid + ')' : '') +
      '; the session lasts ' + who.expiresIn + '\u00a0s.';
  }

  $('login').addEventListener('click', function () {
    var button = $('login');
    button.disabled = true;
    client.login().then(function (who) {
      showLogin(who);
      log('Logged in as ' + who.openid, 'good');
    }, function (error) {
      $('who').setAttribute('data-state', 'error');
      $('who').textContent = error.code + ': ' + error.message;
      log('Login failed: ' + error.code + ' (' + error.message + ')', 'bad');
    }).then(function () { button.disabled = false; });
  });

  $('new-order').addEventListener('click', newOrderId);

  $('currency').addEventListener('change', function () {
    // The API refuses decimals for zero-decimal currencies; offer a whole amount instead.
    if (ZERO_DECIMAL[$('currency').value] && $('amount').value.indexOf('.') >= 0) $('amount').value = '1000';
    else if (!ZERO_DECIMAL[$('currency').value] && $('amount').value === '1000') $('amount').value = '12.50';
  });

  $('pay').addEventListener('click', function () {
    var order = orderFromForm();
    var payButton = $('pay');
    payButton.disabled = true;
    $('sheet-amount').textContent = order.amount + ' ' + order.currency;
    $('sheet-what').textContent = order.description + ' · ' + order.orderId;
    showStatus('pending', 'Waiting for the payment sheet…');
    log('pay(' + order.orderId + ', ' + order.amount + ' ' + order.currency + ')');

    client.pay(order).then(function (final) {
      var detail = final.status === 'paid'
        ? final.orderId + ' paid ' + readableTime(final.paidAt) + ' · invoice ' + final.invoiceNo
        : final.orderId + ': money arrived but a person must check it (invoice ' + final.invoiceNo + ').';
      showStatus(final.status, detail);
      log('pay() resolved: the server says ' + final.status, 'good');
      newOrderId();
    }, function (error) {
      // error.order is the server's view: show its status when it is final, else the error code.
      var finalOrder = error.order && FINAL.indexOf(error.order.status) >= 0 ? error.order : null;
      var status = finalOrder ? finalOrder.status : error.code;
      var detail = error.message + (finalOrder && finalOrder.failReason && error.message.indexOf(finalOrder.failReason) < 0
        ? ' (' + finalOrder.failReason + ')' : '');
      showStatus(status, order.orderId + ': ' + detail, true);
      log('pay() rejected: ' + error.code + (error.status ? ' (HTTP ' + error.status + ')' : '') + ': ' + error.message, 'bad');
      if (finalOrder) newOrderId();
    }).then(function () {
      payButton.disabled = false;
    });
  });

  newOrderId();
})();
