/*
 * The sandbox page's own logic: what a mini program page would do with payments.js. It uses only the
 * module's public API (WechatPayments.createClient) with the browser `wx` from wx-standin.js.
 *
 * The flow: log in; get an order from the "merchant" (POST /sandbox/orders plays the merchant's backend
 * signing the order for the logged-in openid); pay it with pay({ orderToken }). The price shown for
 * paying is the one inside the signed token, read-only. The "let the client choose the price" switch
 * (PUT /sandbox/settings, CLIENT_PRICING) pays a client-priced order instead, for comparison. The
 * fulfilment events (GET /sandbox/events) are polled every second.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var ZERO_DECIMAL = { JPY: true, KRW: true, VND: true };
  var FINAL = WechatPayments.FINAL_STATUSES;
  var EVENTS_EVERY_MS = 1000;

  var client = WechatPayments.createClient({
    baseUrl: window.location.origin,
    wx: window.wx,
    pollIntervalMs: 400,
    pollTimeoutMs: 30000, // a lost notification is found by reconciliation (every 2 s) or GET /orders
  });

  var state = {
    who: null,            // { openid, code } of the last successful login
    signed: null,         // { orderToken, orderId, amount, currency, description, sub } as the merchant signed it
    clientPricing: false, // the sandbox's CLIENT_PRICING, as GET/PUT /sandbox/settings last said
    settingsReady: false,
    paying: false,
    lostNotification: false, // the payment under way had its notification dropped
  };

  function log(text, tone, kind) {
    var item = document.createElement('li');
    if (tone) item.className = tone;
    if (kind) item.setAttribute('data-kind', kind);
    var time = document.createElement('time');
    time.textContent = new Date().toLocaleTimeString([], { hour12: false });
    item.appendChild(time);
    item.appendChild(document.createTextNode(text));
    $('log').appendChild(item);
    $('log').scrollTop = $('log').scrollHeight;
  }
  window.addEventListener('wx-standin', function (event) {
    var detail = event.detail || {};
    if (detail.kind === 'notification-lost') state.lostNotification = true;
    log(detail.text, detail.tone, detail.kind);
  });

  /** #status shows the order's status (or, when there is none to show, the error code). */
  function showStatus(status, detail, isError) {
    var el = $('status');
    el.textContent = status;
    el.setAttribute('data-status', status);
    el.classList.toggle('is-error', !!isError);
    $('status-detail').textContent = detail || '';
  }

  function randomHex(n) {
    var bytes = new Uint8Array(n);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('').toUpperCase();
  }
  function newOrderId() { $('order-id').value = 'DEMO-' + randomHex(3); }
  function newClientOrderId() { $('client-order-id').value = 'CLIENT-' + randomHex(3); }

  /** 2026-11-27T01:51:57.034Z → 2026-11-27 01:51:57 UTC (anything else is shown as given). */
  function readableTime(value) {
    var m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:Z|\+00:00)$/.exec(value || '');
    return m ? 'at ' + m[1] + ' ' + m[2] + ' UTC' : (value ? 'at ' + value : '');
  }

  /** A sandbox call (not the payments API): resolves with the 2xx JSON, rejects with {code, message}. */
  function sandboxCall(method, path, body) {
    var init = { method: method, headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = JSON.parse(text); } catch (e) { /* not JSON */ }
        if (response.ok && data && typeof data === 'object') return data;
        var error = data && data.error && typeof data.error === 'object' ? data.error : {};
        var failure = new Error(error.message || method + ' ' + path + ' answered HTTP ' + response.status + '.');
        failure.code = error.code || 'http_' + response.status;
        failure.status = response.status;
        throw failure;
      });
    });
  }

  /** The claims of a JWT, for display only (the backend checks the signature; the page cannot). */
  function claimsOf(token) {
    try {
      var part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      while (part.length % 4) part += '=';
      var binary = atob(part);
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
      var claims = JSON.parse(new TextDecoder().decode(bytes));
      return claims && typeof claims === 'object' ? claims : null;
    } catch (e) {
      return null;
    }
  }

  // ------------------------------------------------------------------------------------------ render

  /** Shows what depends on the state: who is logged in, the order to pay, the mode, the Pay button. */
  function render() {
    var clientMode = state.clientPricing;
    $('client-order').hidden = !clientMode;
    $('signed-order').hidden = clientMode;
    $('merchant-panel').setAttribute('data-disabled', clientMode ? 'true' : 'false');
    $('get-order').disabled = clientMode;

    var signed = state.signed;
    $('signed-order').setAttribute('data-state', signed ? 'ready' : 'none');
    $('pay-order-id').textContent = signed ? signed.orderId : '';
    $('pay-amount').textContent = signed ? signed.amount + ' ' + signed.currency : '';
    $('pay-description').textContent = signed ? signed.description : '';
    $('pay-sub').textContent = signed ? (signed.sub || 'anyone (no sub in the token)') : '';

    $('pay').disabled = state.paying || (clientMode ? false : !signed);
    $('pay').textContent = clientMode ? 'Pay the price typed above (client-priced)' : "Pay the merchant's order";

    var switchState = $('client-pricing-state');
    switchState.setAttribute('data-on', clientMode ? 'true' : 'false');
    if (state.settingsReady) {
      switchState.textContent = clientMode
        ? 'On: POST /prepay also takes a price from the mini program. Compare: anyone can pay 0.01 for anything.'
        : 'Off (as in production): only a price the merchant signed is accepted.';
    }
  }

  // ------------------------------------------------------------------------------------------- login

  function showLogin(who, code) {
    var el = $('who');
    el.setAttribute('data-state', 'in');
    el.textContent = '';
    el.appendChild(document.createTextNode('Logged in as '));
    var openid = document.createElement('strong');
    openid.id = 'who-openid';
    openid.setAttribute('data-testid', 'who-openid');
    openid.textContent = who.openid;
    el.appendChild(openid);
    el.appendChild(document.createTextNode(' with login code '));
    var codeEl = document.createElement('code');
    codeEl.id = 'who-code';
    codeEl.setAttribute('data-testid', 'who-code');
    codeEl.textContent = code;
    el.appendChild(codeEl);
    el.appendChild(document.createTextNode((who.unionid ? ' (unionid ' + who.unionid + ')' : '') +
      '; the session lasts ' + who.expiresIn + '\u00a0s.'));
  }

  /** wx.login (the stand-in answers the typed code), then POST /openid. */
  function logIn() {
    var code = $('login-code').value.trim();
    return client.login().then(function (who) {
      state.who = { openid: who.openid, code: code };
      showLogin(who, code);
      log('Logged in as ' + who.openid + ' (login code ' + code + ')', 'good');
      return state.who;
    }, function (error) {
      state.who = null;
      $('who').setAttribute('data-state', 'error');
      $('who').textContent = error.code + ': ' + error.message;
      log('Login failed: ' + error.code + ' (' + error.message + ')', 'bad');
      throw error;
    });
  }

  $('login').addEventListener('click', function () {
    var button = $('login');
    button.disabled = true;
    logIn().catch(function () { /* shown already */ }).then(function () { button.disabled = false; });
  });

  // --------------------------------------------------------------------------- the merchant's backend

  function merchantResult(text, stateName) {
    $('merchant-result').textContent = text;
    $('merchant-result').setAttribute('data-state', stateName);
  }

  $('get-order').addEventListener('click', function () {
    var button = $('get-order');
    button.disabled = true;
    var wanted = {
      orderId: $('order-id').value.trim(),
      amount: $('amount').value.trim(),
      currency: $('currency').value,
      description: $('description').value,
    };
    merchantResult('Asking the merchant…', 'busy');
    (state.who ? Promise.resolve(state.who) : logIn()).then(function (who) {
      var body = Object.assign({ sub: who.openid }, wanted);
      return sandboxCall('POST', '/sandbox/orders', body).then(function (answer) {
        if (typeof answer.orderToken !== 'string' || !answer.orderToken) {
          throw Object.assign(new Error('POST /sandbox/orders answered without an orderToken.'), { code: 'bad_response' });
        }
        // Show what the token itself says: that is what the backend will charge.
        var claims = claimsOf(answer.orderToken) || {};
        var pick = function (key) { return typeof claims[key] === 'string' ? claims[key] : body[key]; };
        state.signed = {
          orderToken: answer.orderToken,
          orderId: pick('orderId'),
          amount: pick('amount'),
          currency: pick('currency'),
          description: pick('description'),
          sub: pick('sub'),
        };
        var s = state.signed;
        log('POST /sandbox/orders → 200: the merchant signed ' + s.orderId + ', ' + s.amount + ' ' + s.currency +
          ' for ' + s.sub + ' (order token ' + answer.orderToken.slice(0, 12) + '…, ' + answer.orderToken.length + ' characters)', 'good');
        merchantResult('Signed ' + s.orderId + ' for ' + s.sub + (typeof claims.exp === 'number'
          ? '; the token expires ' + readableTime(new Date(claims.exp * 1000).toISOString()).replace(/^at /, '') : '') + '.', 'signed');
      });
    }).catch(function (error) {
      log('The merchant did not sign the order: ' + (error.code || 'error') + ': ' + error.message, 'bad');
      merchantResult((error.code || 'error') + ': ' + error.message, 'error');
    }).then(function () {
      button.disabled = false;
      render();
    });
  });

  $('new-order').addEventListener('click', newOrderId);

  function zeroDecimalFix(select, input) {
    // The API refuses decimals for zero-decimal currencies; offer a whole amount instead.
    if (ZERO_DECIMAL[select.value] && input.value.indexOf('.') >= 0) input.value = '1000';
    else if (!ZERO_DECIMAL[select.value] && input.value === '1000') input.value = '12.50';
  }
  $('currency').addEventListener('change', function () { zeroDecimalFix($('currency'), $('amount')); });
  $('client-currency').addEventListener('change', function () { zeroDecimalFix($('client-currency'), $('client-amount')); });

  // ------------------------------------------------------------------------- the CLIENT_PRICING switch

  function applySettings(settings) {
    state.clientPricing = settings.clientPricing === true;
    state.settingsReady = true;
    $('client-pricing').checked = state.clientPricing;
  }

  function loadSettings() {
    sandboxCall('GET', '/sandbox/settings').then(function (settings) {
      applySettings(settings);
      $('client-pricing').disabled = false;
      $('pricing-switch').setAttribute('data-state', 'ready');
    }, function (error) {
      $('pricing-switch').setAttribute('data-state', 'unavailable');
      $('client-pricing-state').textContent = 'The sandbox did not say (' + error.message + '); the merchant signs the price.';
      log('GET /sandbox/settings failed: ' + error.message, 'bad');
    }).then(render);
  }

  $('client-pricing').addEventListener('change', function () {
    var box = $('client-pricing');
    var wanted = box.checked;
    box.disabled = true;
    $('pricing-switch').setAttribute('data-state', 'saving');
    sandboxCall('PUT', '/sandbox/settings', { clientPricing: wanted }).then(function (settings) {
      applySettings(settings);
      log('PUT /sandbox/settings → CLIENT_PRICING=' + state.clientPricing +
        (state.clientPricing ? ': the mini program may now set the price itself' : ': only merchant-signed orders'),
        state.clientPricing ? 'warn' : '');
    }, function (error) {
      box.checked = state.clientPricing;
      log('PUT /sandbox/settings failed: ' + error.message, 'bad');
    }).then(function () {
      box.disabled = false;
      $('pricing-switch').setAttribute('data-state', 'ready');
      render();
    });
  });

  // ---------------------------------------------------------------------------------------------- pay

  $('pay').addEventListener('click', function () {
    var clientMode = state.clientPricing;
    var order;
    var shown; // { orderId, amount, currency, description } for the sheet and the log
    if (clientMode) {
      order = {
        orderId: $('client-order-id').value.trim(),
        amount: $('client-amount').value.trim(),
        currency: $('client-currency').value,
        description: $('client-description').value,
      };
      shown = order;
    } else {
      if (!state.signed) return;
      order = { orderToken: state.signed.orderToken };
      shown = state.signed;
    }
    state.paying = true;
    state.lostNotification = false;
    render();
    $('sheet-amount').textContent = shown.amount + ' ' + shown.currency;
    $('sheet-what').textContent = shown.description + ' · ' + shown.orderId;
    showStatus('pending', 'Waiting for the payment sheet…');
    log(clientMode
      ? 'pay({orderId: ' + shown.orderId + ', amount: ' + shown.amount + ' ' + shown.currency + '}): client-priced (CLIENT_PRICING=true)'
      : 'pay({orderToken}): ' + shown.orderId + ', ' + shown.amount + ' ' + shown.currency + ' as the merchant signed it');

    client.pay(order).then(function (final) {
      var detail = final.status === 'paid'
        ? final.orderId + ' paid ' + final.amount + ' ' + final.currency + ' ' + readableTime(final.paidAt) + ' · invoice ' + final.invoiceNo
        : final.orderId + ': money arrived but a person must check it (invoice ' + final.invoiceNo + ').';
      showStatus(final.status, detail);
      log('pay() resolved: the server says ' + final.status, 'good');
      if (state.lostNotification) {
        log('Recovered: ' + final.orderId + ' is ' + final.status + ' although 2C2P\'s notification never arrived; ' +
          '2C2P\'s inquiry (reconciliation or GET /orders) found the payment.', 'good', 'recovered');
      }
      if (clientMode) {
        newClientOrderId();
      } else {
        state.signed = null; // paid: the next purchase is a new order
        merchantResult('', 'none');
        newOrderId();
      }
    }, function (error) {
      // error.order is the server's view: show its status when it is final, else the error code.
      var finalOrder = error.order && FINAL.indexOf(error.order.status) >= 0 ? error.order : null;
      var status = finalOrder ? finalOrder.status : error.code;
      var detail = error.message + (finalOrder && finalOrder.failReason && error.message.indexOf(finalOrder.failReason) < 0
        ? ' (' + finalOrder.failReason + ')' : '');
      showStatus(status, shown.orderId + ': ' + detail, true);
      log('pay() rejected: ' + error.code + (error.status ? ' (HTTP ' + error.status + ')' : '') + ': ' + error.message, 'bad');
      if (state.lostNotification) {
        log('The payment whose notification was lost is not found yet; reconciliation keeps asking 2C2P.', 'warn');
      }
      // A failed order can be paid again (a new attempt); the merchant form offers a fresh order too.
      if (finalOrder) {
        if (clientMode) newClientOrderId();
        else newOrderId();
      }
    }).then(function () {
      state.paying = false;
      render();
    });
  });

  // -------------------------------------------------------------------------------- fulfilment events

  var eventsKey = null;
  var eventsKnown = null; // eventIds seen so far; null until the first answer (old events are not logged)

  function eventItem(event) {
    var detail = event && typeof event.detail === 'object' && event.detail ? event.detail : {};
    var item = document.createElement('li');
    item.setAttribute('data-testid', 'event');
    item.setAttribute('data-detail-type', String(event.detailType || ''));
    item.setAttribute('data-event-id', String(detail.eventId || ''));
    item.setAttribute('data-order-id', String(detail.orderId || ''));
    item.setAttribute('data-status', String(detail.status || ''));
    item.setAttribute('data-openid', String(detail.openid || ''));
    var type = document.createElement('span');
    type.className = 'type';
    type.textContent = String(event.detailType || '(no detailType)');
    var money = document.createElement('span');
    money.className = 'money';
    money.textContent = (detail.amount || '') + ' ' + (detail.currency || '');
    var meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = 'eventId ' + (detail.eventId || '?') + ' · status ' + (detail.status || '?') +
      (detail.failReason ? ' · ' + detail.failReason : '') + (detail.reviewReason ? ' · ' + detail.reviewReason : '') +
      ' · ' + (event.source || '');
    item.appendChild(type);
    item.appendChild(money);
    item.appendChild(meta);
    return item;
  }

  function showEvents(answer) {
    var events = answer && Array.isArray(answer.events) ? answer.events : [];
    var ids = events.map(function (e) { return e && e.detail ? String(e.detail.eventId) : ''; });
    var key = JSON.stringify(ids);
    if (key === eventsKey) return;
    eventsKey = key;
    var list = $('events');
    while (list.firstChild) list.removeChild(list.firstChild);
    events.forEach(function (event) { list.appendChild(eventItem(event)); });
    $('events-state').textContent = events.length + ' event' + (events.length === 1 ? '' : 's') +
      ', newest first: what the merchant\'s systems receive from EventBridge.';
    if (eventsKnown) {
      // Oldest first into the log, each new change once.
      for (var i = events.length - 1; i >= 0; i -= 1) {
        if (!ids[i] || eventsKnown[ids[i]]) continue;
        var d = events[i].detail || {};
        log('Fulfilment event ' + events[i].detailType + ' for ' + d.orderId + ' (eventId ' + ids[i] + ', ' + d.status + ')',
          events[i].detailType === 'Order Paid' ? 'good' : '', 'event');
      }
    }
    eventsKnown = {};
    ids.forEach(function (id) { eventsKnown[id] = true; });
  }

  function pollEvents() {
    sandboxCall('GET', '/sandbox/events').then(function (answer) {
      showEvents(answer);
      setTimeout(pollEvents, EVENTS_EVERY_MS);
    }, function (error) {
      if (error.status === 404 || error.status === 405) {
        $('events-state').textContent = 'This server does not serve GET /sandbox/events.';
        return; // not coming back: stop asking
      }
      $('events-state').textContent = 'Could not read the events (' + error.message + '); trying again.';
      setTimeout(pollEvents, EVENTS_EVERY_MS);
    });
  }

  newOrderId();
  newClientOrderId();
  render();
  loadSettings();
  pollEvents();
})();
