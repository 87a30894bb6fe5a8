#!/usr/bin/env python3
"""Sign an order on the merchant's backend, for the mini program to hand to POST /prepay.

The price is decided here, on a server you trust, never in the mini program: this token carries
the order and an expiry, signed (HS256) with ORDER_SIGNING_KEY, the key the payments backend has
too. See docs/contract.md "POST /prepay" for the claims.

    pip install PyJWT
    ORDER_SIGNING_KEY=... python docs/examples/mint_order_token.py A-1001 12.50 SGD "Latte x2" --sub <openid>
"""

from __future__ import annotations

import argparse
import os
import time

import jwt  # PyJWT


def mint(order_id: str, amount: str, currency: str, description: str, sub: str | None = None, ttl: int = 600) -> str:
    """An order token valid for `ttl` seconds; with `sub`, only that openid may pay it."""
    claims = {
        "orderId": order_id,
        "amount": amount,  # a decimal string in major units ("12.50"), never a float
        "currency": currency,
        "description": description,
        "exp": int(time.time()) + ttl,
    }
    if sub is not None:
        claims["sub"] = sub
    return jwt.encode(claims, os.environ["ORDER_SIGNING_KEY"], algorithm="HS256")


def main() -> None:
    parser = argparse.ArgumentParser(description="Print an order token signed with ORDER_SIGNING_KEY.")
    parser.add_argument("order_id")
    parser.add_argument("amount", help='decimal string in major units, e.g. "12.50"')
    parser.add_argument("currency", help="ISO 4217 code, e.g. SGD")
    parser.add_argument("description")
    parser.add_argument("--sub", help="the openid allowed to pay it (recommended)")
    parser.add_argument("--ttl", type=int, default=600, help="seconds the token stays valid (default 600)")
    args = parser.parse_args()
    print(mint(args.order_id, args.amount, args.currency, args.description, sub=args.sub, ttl=args.ttl))


if __name__ == "__main__":
    main()
