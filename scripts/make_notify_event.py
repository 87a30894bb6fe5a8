#!/usr/bin/env python3
"""Write events/notify.json: 2C2P's backend notification as API Gateway (HTTP API, v2) delivers it.

How the notification is made (docs/protocol-notes.md, "The signed envelope"):

    inner     = <PaymentResponse>...fields...</PaymentResponse>
    payload   = base64(inner)                      standard alphabet, padded, one line
    signature = UPPERCASE_HEX(HMAC-SHA256(key, payload))   over the base64 TEXT, not the XML
    outer     = <PaymentResponse><version>9.9</version><payload>{payload}</payload>
                <signature>{signature}</signature></PaymentResponse>
    form body = "paymentResponse=" + percent-encode(base64(outer))
    event     = isBase64Encoded: true, body = base64(form body)   (API Gateway does this to form posts)

The key is the test key of vectors.json, S3cretKeyForTests, and the notification pays invoice
INV20261126000001 (SGD 12.50, merchant M0001). Before writing, the HMAC implementation is checked
against the signatures in vectors.json; after building, the event is decoded again step by step
and its signature recomputed, so a wrong event is never written.

A notification for another attempt (the local Lambda loop, when no simulator posts it) goes to
stdout or to --output, never over the committed file: --invoice (uniqueTransactionCode), --key
(PGW_SECRET_KEY), --merchant-id, --amt (12 digits of minor units) and --currency-code (ISO 4217
numeric) replace the committed values; the rest of the notification stays as above.

Usage:
    python scripts/make_notify_event.py            # (re)write events/notify.json
    python scripts/make_notify_event.py --check    # exit 1 if events/notify.json differs
    python scripts/make_notify_event.py --invoice "$INVOICE" --key "$PGW_SECRET_KEY" --merchant-id M0001 \
        --output target/dev/notify.json                       # then: cargo lambda invoke notify --data-file ...
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

from apigw_event import http_api_event

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "shared" / "protocol" / "tests" / "data" / "vectors.json"
OUTPUT = ROOT / "events" / "notify.json"

TEST_KEY = "S3cretKeyForTests"

# The notification's fields, in the order 2C2P sends them. Empty values stay as empty elements.
NOTIFICATION_FIELDS = [
    ("timeStamp", "261126120500"),
    ("merchantID", "M0001"),
    ("respCode", "000"),
    ("pan", ""),
    ("amt", "000000001250"),
    ("uniqueTransactionCode", "INV20261126000001"),
    ("tranRef", "8812345"),
    ("approvalCode", "482913"),
    ("refNumber", "4200002026112612050012345678"),
    ("eci", ""),
    ("dateTime", "261126120500"),
    ("status", "A"),
    ("failReason", "Approved"),
    ("userDefined1", ""),
    ("paymentChannel", "WCMINI"),
    ("currencyCode", "702"),
]

# What API Gateway would show for the call (placeholders: 2C2P's source address and user agent
# are not documented; 198.51.100.0/24 is a documentation range).
SOURCE_IP = "198.51.100.23"
USER_AGENT = "2C2P-Notification/1.0 (placeholder)"
TIME = "26/Nov/2026:12:05:00 +0000"
TIME_EPOCH_MS = 1795694700000
REQUEST_ID = "Vn3kQh9ySQ0EMbQ="
TRACE_ID = "Root=1-6b08206c-5f0d2a7c41b8e93d06a1f4c2"


def sign(key: str, payload_b64: str) -> str:
    """The documented rule: uppercase hex of HMAC-SHA256 over the payload's base64 text."""
    return hmac.new(key.encode("utf-8"), payload_b64.encode("ascii"), hashlib.sha256).hexdigest().upper()


def check_hmac_against_vectors(path: Path) -> None:
    vectors = json.loads(path.read_text(encoding="utf-8"))
    for which in ("request", "response"):
        got = sign(vectors["key"], vectors[f"{which}_payload_b64"])
        if got != vectors[f"{which}_signature"]:
            sys.exit(f"make_notify_event: HMAC disagrees with vectors.json {which}_signature ({got})")


def notification_fields(**changes: str) -> list[tuple[str, str]]:
    """NOTIFICATION_FIELDS with some values replaced (by field name), in the same order."""
    unknown = set(changes) - {name for name, _ in NOTIFICATION_FIELDS}
    if unknown:
        sys.exit(f"make_notify_event: no such field {sorted(unknown)}")
    return [(name, changes.get(name, value)) for name, value in NOTIFICATION_FIELDS]


def inner_xml(fields: list[tuple[str, str]]) -> str:
    elements = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields)
    return f"<PaymentResponse>{elements}</PaymentResponse>"


def form_body(key: str, fields: list[tuple[str, str]]) -> str:
    payload = base64.b64encode(inner_xml(fields).encode("utf-8")).decode("ascii")
    outer = (
        "<PaymentResponse><version>9.9</version>"
        f"<payload>{payload}</payload><signature>{sign(key, payload)}</signature>"
        "</PaymentResponse>"
    )
    field = base64.b64encode(outer.encode("utf-8")).decode("ascii")
    # Percent-encode everything outside the unreserved set, so '+', '/' and '=' survive form decoding.
    return "paymentResponse=" + urllib.parse.quote(field, safe="")


def build_event(key: str, fields: list[tuple[str, str]]) -> dict:
    body = form_body(key, fields)
    headers = {
        "accept": "*/*",
        "content-length": str(len(body.encode("ascii"))),
        "content-type": "application/x-www-form-urlencoded",
    }
    return http_api_event(
        path="/notify",
        headers=headers,
        # API Gateway base64-encodes form posts.
        body=base64.b64encode(body.encode("ascii")).decode("ascii"),
        is_base64=True,
        source_ip=SOURCE_IP,
        user_agent=USER_AGENT,
        request_id=REQUEST_ID,
        trace_id=TRACE_ID,
        time=TIME,
        time_epoch_ms=TIME_EPOCH_MS,
    )


def verify_event(event: dict, key: str, expected: list[tuple[str, str]]) -> None:
    """Undo every layer the way a receiver would and recompute the signature."""

    def check(condition: bool, what: str) -> None:
        if not condition:
            sys.exit(f"make_notify_event: self-check failed: {what}")

    check(event["isBase64Encoded"] is True, "isBase64Encoded")
    form = base64.b64decode(event["body"], validate=True).decode("ascii")
    check(event["headers"]["content-length"] == str(len(form)), "content-length")
    fields = urllib.parse.parse_qs(form, strict_parsing=True)
    check(list(fields) == ["paymentResponse"] and len(fields["paymentResponse"]) == 1, "one paymentResponse field")
    outer = ET.fromstring(base64.b64decode(fields["paymentResponse"][0], validate=True))
    check(outer.tag == "PaymentResponse" and outer.findtext("version") == "9.9", "outer element and version")
    payload, signature = outer.findtext("payload"), outer.findtext("signature")
    check(bool(payload) and bool(signature), "payload and signature present")
    check(hmac.compare_digest(sign(key, payload), signature), "signature matches the payload")
    check(signature == signature.upper() and len(signature) == 64, "signature is 64 uppercase hex digits")
    inner = ET.fromstring(base64.b64decode(payload, validate=True))
    check([(child.tag, child.text or "") for child in inner] == expected, "inner fields round-trip")


def main() -> None:
    parser = argparse.ArgumentParser(description="Write events/notify.json, a signed 2C2P notification event.")
    parser.add_argument("--check", action="store_true", help="compare with the existing file instead of writing it")
    parser.add_argument("--vectors", type=Path, default=VECTORS, help=f"default: {VECTORS.relative_to(ROOT)}")
    parser.add_argument("--invoice", help="uniqueTransactionCode: the attempt's invoiceNo (default INV20261126000001)")
    parser.add_argument("--key", help=f"the 2C2P secret key to sign with (default the test key {TEST_KEY})")
    parser.add_argument("--merchant-id", help="merchantID (default M0001)")
    parser.add_argument("--amt", help="amt, 12 digits of minor units (default 000000001250, 12.50)")
    parser.add_argument("--currency-code", help="currencyCode, ISO 4217 numeric (default 702, SGD)")
    parser.add_argument("--output", metavar="PATH", help="where to write; - is stdout (the default for a custom one)")
    args = parser.parse_args()

    changes = {
        field: value
        for field, value in (
            ("uniqueTransactionCode", args.invoice),
            ("merchantID", args.merchant_id),
            ("amt", args.amt),
            ("currencyCode", args.currency_code),
        )
        if value is not None
    }
    custom = bool(changes) or args.key is not None
    if args.check and (custom or args.output):
        parser.error("--check only checks the committed events/notify.json; give it no other option")
    if args.amt is not None and not (len(args.amt) == 12 and args.amt.isdigit()):
        parser.error("--amt must be 12 digits of minor units, e.g. 000000001250 for 12.50")

    check_hmac_against_vectors(args.vectors)
    key = TEST_KEY if args.key is None else args.key
    fields = notification_fields(**changes)
    event = build_event(key, fields)
    verify_event(event, key, fields)
    text = json.dumps(event, indent=2) + "\n"

    output = args.output or ("-" if custom else None)
    if output == "-":
        sys.stdout.write(text)
        return
    if output is not None:
        path = Path(output)
        if path.resolve() == OUTPUT and custom:
            sys.exit(f"refusing to overwrite {OUTPUT.relative_to(ROOT)} with another notification; choose another --output")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {output} (signed, checked)")
        return

    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUTPUT.relative_to(ROOT)} is not what this script makes; run it without --check")
        print(f"{OUTPUT.relative_to(ROOT)} is up to date and verifies")
        return
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} (signed with the test key, HMAC checked against vectors.json)")


if __name__ == "__main__":
    main()
