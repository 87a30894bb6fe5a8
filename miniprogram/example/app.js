// The one setting of this example: your API's base URL (the ApiUrl output of `sam deploy`, or
// http://127.0.0.1:3000 for the local sandbox with "Does not verify valid domain names" ticked in
// DevTools' local settings). Before a release, add its host to the mini program's request legal
// domains (WeChat console: Development > Development settings > Server domain).
App({
  globalData: {
    apiBaseUrl: 'https://YOUR-API-ID.execute-api.ap-southeast-1.amazonaws.com',
  },
});
