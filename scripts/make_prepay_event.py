#!/usr/bin/env python3
"""Write events/prepay.json: POST /prepay from the mini program, carrying a merchant-signed order.

The body is {"orderToken": "<JWT>"}, the order token of docs/contract.md "POST /prepay":

    header  = {"alg":"HS256","typ":"JWT"}
    claims  = {"orderId":"A-1001","amount":"12.50","currency":"SGD","description":"Latte x2",
               "sub":<openid of sandbox-alice>,"exp":4102444800}
    token   = b64url(header) "." b64url(claims) "." b64url(HMAC-SHA256(key, b64url(header) "." b64url(claims)))
              (JSON compact, keys in this order, base64url without padding: the same bytes every run)

The key is the test order key TEST_ORDER_KEY: only a prepay with ORDER_SIGNING_KEY set to it accepts
the event. `sub` is the openid the simulated WeChat gives the code `sandbox-alice` (events/openid.json),
computed as shared/simulator/src/wechat.rs `openid_for` does: "o" + the first 27 base64url characters
of SHA-256("sandbox:alice"). So a session token from events/openid.json pays it, and any other user's
gets 403 forbidden. `exp` is 2100-01-01T00:00:00Z, so the event does not go stale. The bearer token
stays a placeholder (REPLACE_WITH_TOKEN): it depends on SESSION_SECRET and the login time.

After building, the token is taken apart again and its signature recomputed (and, when PyJWT is
installed, decoded by PyJWT too), so a wrong event is never written.

Any other order, key, user or bearer (the local Lambda loop, scripts/dev) goes to stdout or to
--output, never over the committed file: --order-id, --amount, --currency, --description, --key,
--sub (an openid) or --login NAME (the openid the simulated WeChat gives sandbox-NAME), --ttl
SECONDS (exp = now + SECONDS instead of 2100-01-01), --bearer TOKEN (the session token of POST
/openid, in place of the placeholder), and --token-only (print the bare order token, no event).

Usage:
    python scripts/make_prepay_event.py            # (re)write events/prepay.json
    python scripts/make_prepay_event.py --check    # exit 1 if events/prepay.json differs
    python scripts/make_prepay_event.py --order-id A-2001 --sub "$OPENID" --key "$ORDER_SIGNING_KEY" \
        --bearer "$TOKEN" --output target/dev/prepay.json       # an event for cargo lambda invoke
    python scripts/make_prepay_event.py --order-id A-2001 --login bob --key "$KEY" --token-only
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path

from apigw_event import http_api_event

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "events" / "prepay.json"

TEST_ORDER_KEY = "test-order-signing-key-0123456789abcdef"
LOGIN_NAME = "alice"  # events/openid.json logs in with "sandbox-alice"
EXP_YEAR_2100 = 4102444800  # 2100-01-01T00:00:00Z

HEADER = {"alg": "HS256", "typ": "JWT"}

# What API Gateway would show for the call (made up; 203.0.113.0/24 is a documentation range).
SOURCE_IP = "203.0.113.45"
USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.50(0x1800323a) NetType/WIFI Language/zh_CN"
)
TIME = "26/Nov/2026:12:00:30 +0000"
TIME_EPOCH_MS = 1795694430000
REQUEST_ID = "Vn3f7hLcSQ0EKQA="
TRACE_ID = "Root=1-6b081f5e-0b7d4e19c2a83f6651d9e0b4"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def openid_for(name: str) -> str:
    """shared/simulator/src/wechat.rs openid_for: "o" + 27 base64url characters of SHA-256("sandbox:" + name)."""
    return "o" + b64url(hashlib.sha256(f"sandbox:{name}".encode("utf-8")).digest())[:27]


def claims(
    order_id: str = "A-1001",
    amount: str = "12.50",
    currency: str = "SGD",
    description: str = "Latte x2",
    sub: str | None = None,
    exp: int = EXP_YEAR_2100,
) -> dict:
    """The order's claims, in this key order; the defaults are those of the committed events/prepay.json."""
    return {
        "orderId": order_id,
        "amount": amount,
        "currency": currency,
        "description": description,
        "sub": openid_for(LOGIN_NAME) if sub is None else sub,
        "exp": exp,
    }


def hs256(key: str, signing_input: str) -> str:
    return b64url(hmac.new(key.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest())


def order_token(key: str, order: dict) -> str:
    signing_input = f"{b64url(compact(HEADER))}.{b64url(compact(order))}"
    return f"{signing_input}.{hs256(key, signing_input)}"


def build_event(key: str, order: dict, bearer: str = "REPLACE_WITH_TOKEN") -> dict:
    body = json.dumps({"orderToken": order_token(key, order)}, separators=(",", ":"))
    headers = {
        "accept": "*/*",
        "authorization": f"Bearer {bearer}",
        "content-length": str(len(body.encode("utf-8"))),
        "content-type": "application/json",
        "referer": "https://servicewechat.com/wx1234567890abcdef/0/page-frame.html",
    }
    return http_api_event(
        path="/prepay",
        headers=headers,
        body=body,
        is_base64=False,
        source_ip=SOURCE_IP,
        user_agent=USER_AGENT,
        request_id=REQUEST_ID,
        trace_id=TRACE_ID,
        time=TIME,
        time_epoch_ms=TIME_EPOCH_MS,
    )


def verify_event(event: dict, key: str, order: dict) -> None:
    """Undo every layer the way prepay would and recompute the signature."""

    def check(condition: bool, what: str) -> None:
        if not condition:
            sys.exit(f"make_prepay_event: self-check failed: {what}")

    check(event["isBase64Encoded"] is False, "isBase64Encoded")
    check(event["headers"]["content-length"] == str(len(event["body"].encode("utf-8"))), "content-length")
    body = json.loads(event["body"])
    check(list(body) == ["orderToken"] and isinstance(body["orderToken"], str), "the body is only orderToken")
    token = body["orderToken"]
    parts = token.split(".")
    check(len(parts) == 3, "three parts")
    check(json.loads(b64url_decode(parts[0])) == HEADER, "header is HS256 with no kid")
    check(hmac.compare_digest(hs256(key, f"{parts[0]}.{parts[1]}"), parts[2]), "signature matches")
    check(json.loads(b64url_decode(parts[1])) == order, "claims round-trip")
    check(bool(order["sub"]), "sub is not empty")
    try:
        import jwt  # PyJWT, when installed: a second, independent reading
    except ImportError:
        return
    # Signature only: a token with a short --ttl may be read after it expired, which is not our error.
    decoded = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp"], "verify_exp": False})
    check(decoded == order, "PyJWT reads the same claims")


CUSTOM_OPTIONS = ("order_id", "amount", "currency", "description", "key", "sub", "login", "ttl", "bearer")


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Write events/prepay.json, a prepay event with a signed order token; or one for any order."
    )
    parser.add_argument("--check", action="store_true", help="compare with the existing file instead of writing it")
    parser.add_argument("--order-id", help="orderId claim (default A-1001)")
    parser.add_argument("--amount", help='amount claim, a decimal string (default "12.50")')
    parser.add_argument("--currency", help="currency claim (default SGD)")
    parser.add_argument("--description", help='description claim (default "Latte x2")')
    parser.add_argument("--key", help=f"ORDER_SIGNING_KEY to sign with (default the test key {TEST_ORDER_KEY})")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--sub", help="sub claim: the openid allowed to pay")
    who.add_argument("--login", metavar="NAME", help="sub = the openid the simulated WeChat gives sandbox-NAME")
    parser.add_argument("--ttl", type=int, metavar="SECONDS", help="exp = now + SECONDS (default 2100-01-01)")
    parser.add_argument("--bearer", metavar="TOKEN", help="session token for the authorization header")
    parser.add_argument("--token-only", action="store_true", help="print (or write) the bare order token")
    parser.add_argument("--output", metavar="PATH", help="where to write; - is stdout (the default for a custom one)")
    args = parser.parse_args()

    custom = any(getattr(args, name) is not None for name in CUSTOM_OPTIONS) or args.token_only
    if args.check and (custom or args.output):
        parser.error("--check only checks the committed events/prepay.json; give it no other option")
    if args.ttl is not None and args.ttl <= 0:
        parser.error("--ttl must be a positive number of seconds")

    key = args.key or TEST_ORDER_KEY
    sub = openid_for(args.login) if args.login is not None else args.sub
    order = claims(
        order_id=args.order_id or "A-1001",
        amount=args.amount or "12.50",
        currency=args.currency or "SGD",
        description=args.description or "Latte x2",
        sub=sub,
        exp=int(time.time()) + args.ttl if args.ttl is not None else EXP_YEAR_2100,
    )
    event = build_event(key, order, args.bearer or "REPLACE_WITH_TOKEN")
    verify_event(event, key, order)
    text = order_token(key, order) + "\n" if args.token_only else json.dumps(event, indent=2) + "\n"

    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUTPUT.relative_to(ROOT)} is not what this script makes; run it without --check")
        print(f"{OUTPUT.relative_to(ROOT)} is up to date and verifies")
        return
    output = args.output or ("-" if custom else str(OUTPUT))
    if output == "-":
        sys.stdout.write(text)
        return
    path = Path(output)
    if path.resolve() == OUTPUT and custom:
        sys.exit(f"refusing to overwrite {OUTPUT.relative_to(ROOT)} with a custom order; choose another --output")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    what = "order token" if args.token_only else "event"
    signer = "the test order key" if key == TEST_ORDER_KEY else "the given key"
    print(f"wrote {output} ({what} signed with {signer}, checked)")


if __name__ == "__main__":
    main()
