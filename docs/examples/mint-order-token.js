// Sign an order on the merchant's backend, for the mini program to hand to POST /prepay.
//
// The price is decided here, on a server you trust, never in the mini program: this token carries
// the order and an expiry, signed (HS256) with ORDER_SIGNING_KEY, the key the payments backend has
// too. See docs/contract.md "POST /prepay" for the claims.
//
//   npm install jsonwebtoken
//   ORDER_SIGNING_KEY=... node docs/examples/mint-order-token.js A-1001 12.50 SGD "Latte x2" <openid>

const jwt = require('jsonwebtoken');

/** An order token valid for `ttl` seconds; with `sub`, only that openid may pay it. */
function mint({ orderId, amount, currency, description, sub, ttl = 600 }) {
  const claims = { orderId, amount, currency, description }; // amount: a decimal string ("12.50"), never a number
  if (sub !== undefined) claims.sub = sub;
  return jwt.sign(claims, process.env.ORDER_SIGNING_KEY, { algorithm: 'HS256', expiresIn: ttl });
}

module.exports = { mint };

if (require.main === module) {
  const [orderId, amount, currency, description, sub] = process.argv.slice(2);
  console.log(mint({ orderId, amount, currency, description, sub }));
}
