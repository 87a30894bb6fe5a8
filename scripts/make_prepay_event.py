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

Usage:
    python scripts/make_prepay_event.py            # (re)write events/prepay.json
    python scripts/make_prepay_event.py --check    # exit 1 if events/prepay.json differs
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "events" / "prepay.json"

TEST_ORDER_KEY = "test-order-signing-key-0123456789abcdef"
LOGIN_NAME = "alice"  # events/openid.json logs in with "sandbox-alice"
EXP_YEAR_2100 = 4102444800  # 2100-01-01T00:00:00Z

HEADER = {"alg": "HS256", "typ": "JWT"}

# What API Gateway would show for the call (made up; 203.0.113.0/24 is a documentation range).
API_ID = "a1b2c3d4e5"
DOMAIN = f"{API_ID}.execute-api.ap-southeast-1.amazonaws.com"
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


def claims() -> dict:
    return {
        "orderId": "A-1001",
        "amount": "12.50",
        "currency": "SGD",
        "description": "Latte x2",
        "sub": openid_for(LOGIN_NAME),
        "exp": EXP_YEAR_2100,
    }


def hs256(key: str, signing_input: str) -> str:
    return b64url(hmac.new(key.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest())


def order_token(key: str) -> str:
    signing_input = f"{b64url(compact(HEADER))}.{b64url(compact(claims()))}"
    return f"{signing_input}.{hs256(key, signing_input)}"


def build_event(key: str) -> dict:
    body = json.dumps({"orderToken": order_token(key)}, separators=(",", ":"))
    return {
        "version": "2.0",
        "routeKey": "POST /prepay",
        "rawPath": "/prepay",
        "rawQueryString": "",
        "headers": {
            "accept": "*/*",
            "authorization": "Bearer REPLACE_WITH_TOKEN",
            "content-length": str(len(body.encode("utf-8"))),
            "content-type": "application/json",
            "host": DOMAIN,
            "referer": "https://servicewechat.com/wx1234567890abcdef/0/page-frame.html",
            "user-agent": USER_AGENT,
            "x-amzn-trace-id": TRACE_ID,
            "x-forwarded-for": SOURCE_IP,
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": "POST",
                "path": "/prepay",
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": USER_AGENT,
            },
            "requestId": REQUEST_ID,
            "routeKey": "POST /prepay",
            "stage": "$default",
            "time": TIME,
            "timeEpoch": TIME_EPOCH_MS,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def verify_event(event: dict, key: str) -> None:
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
    check(json.loads(b64url_decode(parts[1])) == claims(), "claims round-trip")
    check(openid_for("alice") == claims()["sub"] and len(claims()["sub"]) == 28, "sub is a 28-character openid")
    try:
        import jwt  # PyJWT, when installed: a second, independent reading
    except ImportError:
        return
    decoded = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp"]})
    check(decoded == claims(), "PyJWT reads the same claims")


def main() -> None:
    parser = argparse.ArgumentParser(description="Write events/prepay.json, a prepay event with a signed order token.")
    parser.add_argument("--check", action="store_true", help="compare with the existing file instead of writing it")
    args = parser.parse_args()

    event = build_event(TEST_ORDER_KEY)
    verify_event(event, TEST_ORDER_KEY)
    text = json.dumps(event, indent=2) + "\n"

    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUTPUT.relative_to(ROOT)} is not what this script makes; run it without --check")
        print(f"{OUTPUT.relative_to(ROOT)} is up to date and verifies")
        return
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} (order token signed with the test order key, checked)")


if __name__ == "__main__":
    main()
