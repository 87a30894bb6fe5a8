// The backend's base URL: the ApiUrl output of `sam deploy` (or your sandbox while developing in
// DevTools with "do not verify request domains" ticked). Add its host to the mini program's
// request legal domains in the WeChat console before release.
App({
  globalData: { apiBaseUrl: 'https://REPLACE-WITH-API-ID.execute-api.ap-southeast-1.amazonaws.com' },
});
