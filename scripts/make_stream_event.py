#!/usr/bin/env python3
"""Write events/stream.json: the DynamoDB stream event the `events` function receives when an order is paid.

One record, eventName MODIFY, StreamViewType NEW_AND_OLD_IMAGES: order A-1001 (SGD 12.50, "Latte x2")
goes from `pending` (version 2, its payment parameters issued) to `paid` (version 3) by invoice
INV20261126000001, the invoice events/notify.json pays. The images follow store/dynamo.rs
`order_to_item` attribute for attribute: keys `pk` = `ORDER#{orderId}` and `sk` = `ORDER`, camelCase
names, numbers as DynamoDB `N` strings, `payment` as the compact JSON of 2C2P's object with sorted keys
(what serde_json writes), optional attributes left out when unset.

shared/payments/tests/fulfilment.rs reads the file back through the Rust decoder (every field, and
exactly this set of attributes) and maps it to exactly one `Order Paid` event.

Usage:
    python scripts/make_stream_event.py            # (re)write events/stream.json
    python scripts/make_stream_event.py --check    # exit 1 if events/stream.json differs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "events" / "stream.json"

T0 = 1795694400  # 2026-11-26T12:00:00Z
ORDER_ID = "A-1001"
INVOICE = "INV20261126000001"
PAYMENT = {
    "timeStamp": "1795694405",
    "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    "package": "prepay_id=wx26120005123456789012345678901234",
    "signType": "RSA",
    "paySign": "c2lnbmVkLWJ5LXdlY2hhdC1wbGFjZWhvbGRlcg==",
}


def s(text: str) -> dict:
    return {"S": text}


def n(number: int) -> dict:
    return {"N": str(number)}


def order_item(status: str, version: int, paid: bool) -> dict:
    item = {
        "pk": s(f"ORDER#{ORDER_ID}"),
        "sk": s("ORDER"),
        "orderId": s(ORDER_ID),
        "openid": s("oSandboxAlice0000000000000000"),
        "amountMinor": n(1250),
        "currency": s("SGD"),
        "description": s("Latte x2"),
        "status": s(status),
        "invoiceNo": s(INVOICE),
        "attemptExpiresAt": n(T0 + 900),
        "createdAt": n(T0),
        "updatedAt": n(T0 + 95 if paid else T0),
        "version": n(version),
        "payment": s(json.dumps(PAYMENT, sort_keys=True, separators=(",", ":"), ensure_ascii=False)),
    }
    if paid:
        item["paidInvoiceNo"] = s(INVOICE)
        item["paidAt"] = n(T0 + 95)
    return item


def event() -> dict:
    keys = {"pk": s(f"ORDER#{ORDER_ID}"), "sk": s("ORDER")}
    new, old = order_item("paid", 3, True), order_item("pending", 2, False)
    return {
        "Records": [
            {
                "eventID": "c81e728d9d4c2f636f067f89cc14862c",
                "eventName": "MODIFY",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "ap-southeast-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": T0 + 95,
                    "Keys": keys,
                    "NewImage": new,
                    "OldImage": old,
                    "SequenceNumber": "4421584500000000017450439091",
                    "SizeBytes": len(json.dumps(new)) + len(json.dumps(old)),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": "arn:aws:dynamodb:ap-southeast-1:123456789012:table/payments/stream/2026-11-26T00:00:00.000",
            }
        ]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if events/stream.json is not current")
    args = parser.parse_args()
    text = json.dumps(event(), indent=2, ensure_ascii=False) + "\n"
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is not current: run python scripts/make_stream_event.py", file=sys.stderr)
            return 1
        print(f"{OUT} is current")
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
