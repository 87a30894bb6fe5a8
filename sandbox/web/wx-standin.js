/*
 * A browser stand-in for the three `wx` calls payments.js makes, so the sandbox page runs the module
 * unchanged:
 *   wx.login           answers the code typed into #login-code
 *   wx.request         fetch(), with an AbortController for `timeout`, answering like WeChat
 *                      ({statusCode, data, header}; data parsed from JSON when it is JSON)
 *   wx.requestPayment  opens the #pay-sheet dialog; "Confirm" and "Decline" tell the simulated
 *                      WeChat/2C2P (POST /sandbox/pay/{prepay_id}), which notifies the backend the way
 *                      2C2P would; "Pay, but 2C2P's notification is lost" pays without that
 *                      notification ({"notify": false}), so only 2C2P's inquiry (reconciliation, or
 *                      the next GET /orders) can find the payment; "Cancel" tells nobody, as on a phone.
 * Each step is reported as a `wx-standin` DOM event on window (detail: {text, tone, kind}) for the
 * page's log; `kind` is "notification-lost" when the notification was dropped. Nothing reported ever
 * contains a token or an Authorization header.
 */
(function () {
  'use strict';

  function report(text, tone, kind) {
    window.dispatchEvent(new CustomEvent('wx-standin', { detail: { text: text, tone: tone || '', kind: kind || '' } }));
  }

  function later(fn, arg) {
    if (typeof fn === 'function') setTimeout(function () { fn(arg); }, 0);
  }

  function login(options) {
    var input = document.getElementById('login-code');
    var code = input ? input.value.trim() : '';
    if (!code) {
      report('wx.login: no code typed', 'bad');
      later(options.fail, { errMsg: 'login:fail no code' });
      return;
    }
    report('wx.login → code ' + code);
    later(options.success, { code: code, errMsg: 'login:ok' });
  }

  /** A short, token-free summary of an API answer for the log. */
  function summary(data) {
    if (!data || typeof data !== 'object') return '';
    if (data.error && data.error.code) return data.error.code + ': ' + (data.error.message || '');
    var parts = [];
    if (data.openid) parts.push('openid ' + data.openid);
    if (data.status) parts.push(data.status);
    if (data.invoiceNo) parts.push('invoice ' + data.invoiceNo);
    if (data.failReason) parts.push(data.failReason);
    return parts.join(', ');
  }

  function request(options) {
    var method = (options.method || 'GET').toUpperCase();
    var url = options.url;
    var body;
    if (options.data !== undefined && options.data !== null) {
      if (method === 'GET' || method === 'HEAD') {
        // WeChat turns an object into the query string for GET.
        if (typeof options.data === 'object') {
          var query = new URLSearchParams(options.data).toString();
          if (query) url += (url.indexOf('?') >= 0 ? '&' : '?') + query;
        }
      } else {
        body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
      }
    }
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, options.timeout || 60000);
    var path = url.replace(window.location.origin, '');

    fetch(url, { method: method, headers: options.header || {}, body: body, signal: controller.signal })
      .then(function (response) {
        return response.text().then(function (text) {
          var data = text;
          try { data = JSON.parse(text); } catch (e) { /* not JSON: WeChat hands over the text */ }
          var header = {};
          response.headers.forEach(function (value, name) { header[name] = value; });
          var note = summary(data);
          report(method + ' ' + path + ' → ' + response.status + (note ? ' (' + note + ')' : ''), response.ok ? '' : 'bad');
          return { statusCode: response.status, data: data, header: header, errMsg: 'request:ok' };
        });
      })
      .then(function (res) {
        clearTimeout(timer);
        later(options.success, res);
      }, function (error) {
        clearTimeout(timer);
        var detail = error && error.name === 'AbortError' ? 'timeout' : String(error && error.message || error);
        report(method + ' ' + path + ' failed: ' + detail, 'bad');
        later(options.fail, { errMsg: 'request:fail ' + detail });
      });
  }

  var REQUIRED = ['timeStamp', 'nonceStr', 'package', 'signType', 'paySign'];

  function requestPayment(options) {
    var missing = REQUIRED.filter(function (key) { return typeof options[key] !== 'string' || !options[key]; });
    var match = /^prepay_id=(.+)$/.exec(options.package || '');
    if (missing.length || !match) {
      report('wx.requestPayment: bad parameters (' + (missing.join(', ') || 'package') + ')', 'bad');
      later(options.fail, { errMsg: 'requestPayment:fail parameter error' });
      return;
    }
    var prepayId = match[1];
    var sheet = document.getElementById('pay-sheet');
    var confirmButton = document.getElementById('confirm-pay');
    var lostButton = document.getElementById('lost-pay');
    var failButton = document.getElementById('fail-pay');
    var cancelButton = document.getElementById('cancel-pay');
    document.getElementById('sheet-package').textContent = options.package + ' · ' + options.signType;
    sheet.hidden = false;
    confirmButton.focus();
    report('wx.requestPayment → the payment sheet is open (' + options.package + ')');

    var done = false;
    function finish() {
      done = true;
      sheet.hidden = true;
      confirmButton.onclick = lostButton.onclick = failButton.onclick = cancelButton.onclick = null;
      document.removeEventListener('keydown', onKey);
    }
    function onKey(event) {
      if (event.key === 'Escape' && !done) cancel();
    }
    function cancel() {
      finish();
      report('You cancelled: nothing is sent to WeChat');
      later(options.fail, { errMsg: 'requestPayment:fail cancel' });
    }
    /**
     * What WeChat and 2C2P do once the user has chosen: the simulator notifies the backend, unless
     * `notify` is false (the notification is lost on its way).
     */
    function settle(result, notify, then) {
      finish();
      // {"result"} alone is the contract's ordinary confirmation (notified); notify false drops the notification.
      var choice = notify === false ? { result: result, notify: false } : { result: result };
      fetch('/sandbox/pay/' + encodeURIComponent(prepayId), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(choice),
      })
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (data) {
            var note;
            if (!response.ok) note = summary(data);
            else if (data.notified === false) note = 'not notified';
            else note = 'notifyStatus ' + data.notifyStatus;
            report('POST /sandbox/pay/' + prepayId + ' ' + JSON.stringify(choice) + ' → ' + response.status + ' (' + note + ')', response.ok ? '' : 'bad');
            then(response.ok, data);
          });
        })
        .catch(function (error) {
          report('POST /sandbox/pay failed: ' + error.message, 'bad');
          then(false, { error: { message: error.message } });
        });
    }

    /** WeChat took the money: the sheet closes with requestPayment:ok, whatever became of 2C2P's notification. */
    function paid(ok, data) {
      if (ok) {
        report('wx.requestPayment → requestPayment:ok (not proof of payment: the client now asks the server)');
        later(options.success, { errMsg: 'requestPayment:ok' });
      } else {
        later(options.fail, { errMsg: 'requestPayment:fail ' + ((data.error && data.error.message) || 'system error') });
      }
    }
    confirmButton.onclick = function () {
      settle('success', true, paid);
    };
    lostButton.onclick = function () {
      settle('success', false, function (ok, data) {
        if (ok && data.notified !== true) {
          report('2C2P\'s notification was dropped: the backend has not heard of this payment yet. Reconciliation ' +
            '(every 2 s in the sandbox) or the next GET /orders will find it through 2C2P\'s inquiry.', 'warn', 'notification-lost');
        } else if (ok) {
          report('The simulator notified the backend after all (notifyStatus ' + data.notifyStatus + ')', 'bad');
        }
        paid(ok, data);
      });
    };
    failButton.onclick = function () {
      settle('fail', true, function () {
        report('wx.requestPayment → requestPayment:fail (declined)');
        later(options.fail, { errMsg: 'requestPayment:fail the payment was declined (sandbox)' });
      });
    };
    cancelButton.onclick = cancel;
    document.addEventListener('keydown', onKey);
  }

  window.wx = { login: login, request: request, requestPayment: requestPayment };
})();
