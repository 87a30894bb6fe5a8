#!/usr/bin/env python3
"""Writes events/*.json: API Gateway HTTP API (payload 2.0) events for every route.

The notify event carries a notification signed with the documented rule and the test key of
vectors.json (S3cretKeyForTests): payload = base64(inner XML); signature = uppercase hex
HMAC-SHA256(key, payload text); field = base64(outer XML); body = base64 of the form, as API Gateway
delivers form posts (isBase64Encoded: true). Run it again after changing the shapes here.
"""
import base64
import hashlib
import hmac
import json
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = b"S3cretKeyForTests"
TIME = "27/Nov/2026:01:00:00 +0000"
EPOCH_MS = 1795741200000


def sign(payload_b64: str) -> str:
    return hmac.new(KEY, payload_b64.encode(), hashlib.sha256).hexdigest().upper()


def check_against_vectors():
    vectors = json.loads((ROOT / "shared/protocol/tests/data/vectors.json").read_text())
    assert sign(vectors["request_payload_b64"]) == vectors["request_signature"], "HMAC rule disagrees with vectors.json"


def event(method, path, route_key, body, headers, base64_encoded=False, path_parameters=None):
    e = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "*/*",
            "content-length": str(len(body or "")),
            "host": "abc123defg.execute-api.ap-southeast-1.amazonaws.com",
            "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.50 miniProgram",
            "x-amzn-trace-id": "Root=1-6746e0d0-0123456789abcdef01234567",
            "x-forwarded-for": "203.0.113.10",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **headers,
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": "abc123defg.execute-api.ap-southeast-1.amazonaws.com",
            "domainPrefix": "abc123defg",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.50 miniProgram",
            },
            "requestId": "C3dpWgUBSQ0EJ-w=",
            "routeKey": route_key,
            "stage": "$default",
            "time": TIME,
            "timeEpoch": EPOCH_MS,
        },
        "isBase64Encoded": base64_encoded,
    }
    if body is not None:
        e["body"] = body
    if path_parameters:
        e["pathParameters"] = path_parameters
    return e


def notify_body():
    inner = (
        "<PaymentResponse><timeStamp>261126120500</timeStamp><merchantID>M0001</merchantID><respCode>000</respCode>"
        "<pan></pan><amt>000000001250</amt><uniqueTransactionCode>INV20261126000001</uniqueTransactionCode>"
        "<tranRef>8812345</tranRef><approvalCode>123456</approvalCode><refNumber>4200001234202611260000000001</refNumber>"
        "<eci></eci><dateTime>261126120500</dateTime><status>A</status><failReason>Approved</failReason>"
        "<userDefined1>A-1001</userDefined1><paymentChannel>WCMINI</paymentChannel><currencyCode>702</currencyCode>"
        "</PaymentResponse>"
    )
    payload = base64.b64encode(inner.encode()).decode()
    outer = f"<PaymentResponse><version>9.9</version><payload>{payload}</payload><signature>{sign(payload)}</signature></PaymentResponse>"
    field = base64.b64encode(outer.encode()).decode()
    form = "paymentResponse=" + urllib.parse.quote(field, safe="")
    # Self-check: the form decodes back to a field whose signature holds.
    decoded = urllib.parse.parse_qs(form)["paymentResponse"][0]
    assert decoded == field and sign(payload) in base64.b64decode(decoded).decode()
    return base64.b64encode(form.encode()).decode()


def main():
    check_against_vectors()
    json_headers = {"content-type": "application/json"}
    auth = {"authorization": "Bearer REPLACE_WITH_TOKEN"}
    events = {
        "openid": event("POST", "/openid", "POST /openid", '{"code":"sandbox-alice"}', json_headers),
        "prepay": event(
            "POST", "/prepay", "POST /prepay",
            '{"orderId":"A-1001","amount":"12.50","currency":"SGD","description":"Latte x2"}',
            {**json_headers, **auth},
        ),
        "order": event(
            "GET", "/orders/A-1001", "GET /orders/{orderId}", None, auth, path_parameters={"orderId": "A-1001"}
        ),
        "notify": event(
            "POST", "/notify", "POST /notify", notify_body(),
            {"content-type": "application/x-www-form-urlencoded", "user-agent": "2C2P"}, base64_encoded=True,
        ),
    }
    for name, value in events.items():
        (ROOT / "events" / f"{name}.json").write_text(json.dumps(value, indent=2) + "\n")
        print(f"events/{name}.json")


if __name__ == "__main__":
    main()
