// The settings of this example. Replace the placeholders before opening it in DevTools.
//
// API_BASE_URL: the payments API, on your own ICP-filed domain (an API Gateway custom domain mapped
//   to the HTTP API), HTTPS only, and listed under the mini program's "request domains" (WeChat
//   console: Development > Development settings > Server domain > request legal domains). WeChat does
//   not accept an `execute-api` host there. For the local sandbox: 'http://127.0.0.1:3000', with "Does
//   not verify valid domain names" ticked in DevTools' local settings.
// MERCHANT_API_URL: your own backend, which prices each order and signs it (the order token). The page
//   asks GET {MERCHANT_API_URL}/orders/{orderId}/token; that route is a placeholder for your own API,
//   and its host must be a request domain too.
// SANDBOX_LOGIN_CODE: '' in any real build. DevTools' wx.login returns real WeChat codes, which the
//   sandbox's simulated WeChat refuses; set it to a sandbox code such as 'sandbox-devtools' to log in
//   as that sandbox user instead. While it is set, the page also gets its order token from the
//   sandbox's stand-in merchant (POST {API_BASE_URL}/sandbox/orders) rather than MERCHANT_API_URL.
const API_BASE_URL = 'https://pay.shop.example.com';
const MERCHANT_API_URL = 'https://shop.example.com/api';
const SANDBOX_LOGIN_CODE = '';

App({
  globalData: {
    apiBaseUrl: API_BASE_URL,
    merchantApiUrl: MERCHANT_API_URL,
    sandboxLoginCode: SANDBOX_LOGIN_CODE,
  },
});
