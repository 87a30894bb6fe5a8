/*
 * A small `wx` for the browser, so the sandbox page can run miniprogram/payments.js unchanged.
 * wx.login answers the code typed on the page; wx.request uses fetch; wx.requestPayment shows a
 * WeChat-like confirm sheet and, like WeChat, tells the (simulated) 2C2P what the user chose, which
 * then posts its signed notification to the backend's /notify.
 */
(function () {
  'use strict';

  function login(options) {
    var input = document.getElementById('login-code');
    var code = input ? input.value.trim() : '';
    setTimeout(function () {
      if (code) options.success && options.success({ code: code, errMsg: 'login:ok' });
      else options.fail && options.fail({ errMsg: 'login:fail no code' });
    }, 0);
  }

  function request(options) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, options.timeout || 10000);
    fetch(options.url, {
      method: options.method || 'GET',
      headers: options.header || {},
      body: options.data,
      signal: controller.signal,
    })
      .then(function (response) {
        return response.text().then(function (text) {
          var data = text;
          try { data = JSON.parse(text); } catch (e) { /* keep the text, as wx.request does */ }
          options.success && options.success({ statusCode: response.status, data: data, header: {} });
        });
      })
      .catch(function (error) {
        var aborted = error && error.name === 'AbortError';
        options.fail && options.fail({ errMsg: 'request:fail ' + (aborted ? 'timeout' : error.message) });
      })
      .finally(function () { clearTimeout(timer); });
  }

  function requestPayment(options) {
    var sheet = document.getElementById('pay-sheet');
    var prepayId = String(options.package || '').replace(/^prepay_id=/, '');
    document.getElementById('pay-sheet-detail').textContent = options.package || '';
    sheet.hidden = false;

    function close() {
      sheet.hidden = true;
      ['confirm-pay', 'fail-pay', 'cancel-pay'].forEach(function (id) {
        document.getElementById(id).onclick = null;
      });
    }
    function tellWechat(result, then) {
      fetch('/sandbox/pay/' + encodeURIComponent(prepayId), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ result: result }),
      })
        .then(function (response) { return response.json().then(function (body) { then(response.ok, body); }); })
        .catch(function (error) { then(false, { error: { message: error.message } }); });
    }

    document.getElementById('confirm-pay').onclick = function () {
      close();
      tellWechat('success', function (ok, body) {
        if (ok) options.success && options.success({ errMsg: 'requestPayment:ok', notifyStatus: body.notifyStatus });
        else options.fail && options.fail({ errMsg: 'requestPayment:fail ' + ((body.error && body.error.message) || 'error') });
      });
    };
    document.getElementById('fail-pay').onclick = function () {
      close();
      tellWechat('fail', function () {
        options.fail && options.fail({ errMsg: 'requestPayment:fail declined by the bank' });
      });
    };
    document.getElementById('cancel-pay').onclick = function () {
      close();
      options.fail && options.fail({ errMsg: 'requestPayment:fail cancel' });
    };
  }

  window.wx = { login: login, request: request, requestPayment: requestPayment };
})();
