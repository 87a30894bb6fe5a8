"""The merchant's side of POST /prepay, end to end against a running sandbox.

docs/examples/mint_order_token.py is what README.md tells a merchant to run on their backend; this
proves that a token it mints is what prepay accepts, and that prepay refuses what it must.

    SANDBOX_URL=http://127.0.0.1:3000 python -m pytest tests/merchant

The sandbox must require order tokens (no CLIENT_PRICING) and hold SANDBOX_ORDER_KEY as its order key.
Standard library plus PyJWT only.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs" / "examples"))
import mint_order_token  # noqa: E402  (the example itself, not a copy)

SANDBOX_ORDER_KEY = "sandbox-order-signing-key-0123456789abcdef"
ANOTHER_KEY = "not-the-merchants-order-key-0123456789"
LOGIN_CODE = "sandbox-merchant-example"


def sandbox_url() -> str:
    url = os.environ.get("SANDBOX_URL", "").rstrip("/")
    if not url:
        pytest.fail("SANDBOX_URL is not set: start the sandbox (cargo run -p sandbox) and point SANDBOX_URL at it")
    return url


def call(path: str, body: dict, bearer: str | None = None) -> tuple[int, dict]:
    """POST JSON; the status and the JSON answer, errors included."""
    headers = {"content-type": "application/json"}
    if bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(
        sandbox_url() + path, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def session() -> dict:
    status, answer = call("/openid", {"code": LOGIN_CODE})
    assert status == 200, answer
    assert answer["openid"] and answer["token"], answer
    return answer


@pytest.fixture
def merchant_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_SIGNING_KEY", SANDBOX_ORDER_KEY)


def fresh_order_id() -> str:
    """Unique per run, so a rerun against the same sandbox meets no earlier order."""
    return f"M-{int(time.time())}-{uuid.uuid4().hex[:12]}"


def prepay(session: dict, body: dict) -> tuple[int, dict]:
    return call("/prepay", body, bearer=session["token"])


def test_a_token_minted_by_the_example_is_accepted(session: dict, merchant_key: None) -> None:
    order_id = fresh_order_id()
    token = mint_order_token.mint(order_id, "12.5", "SGD", "Latte x2", sub=session["openid"])

    status, answer = prepay(session, {"orderToken": token})

    assert status == 200, answer
    assert answer["orderId"] == order_id
    assert answer["status"] == "pending"
    assert (answer["amount"], answer["currency"]) == ("12.50", "SGD"), "amount echoed in canonical form"
    assert answer["invoiceNo"]
    for key in ("timeStamp", "nonceStr", "package", "signType", "paySign"):
        assert isinstance(answer["payment"][key], str), (key, answer["payment"])


def test_a_token_minted_with_another_key_is_refused(
    session: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDER_SIGNING_KEY", ANOTHER_KEY)
    token = mint_order_token.mint(fresh_order_id(), "12.50", "SGD", "Latte x2", sub=session["openid"])

    status, answer = prepay(session, {"orderToken": token})

    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_order_token", answer
    assert token not in answer["error"]["message"] and ANOTHER_KEY not in answer["error"]["message"]


def test_an_order_field_beside_the_token_is_refused_by_name(session: dict, merchant_key: None) -> None:
    token = mint_order_token.mint(fresh_order_id(), "12.50", "SGD", "Latte x2", sub=session["openid"])

    status, answer = prepay(session, {"orderToken": token, "amount": "0.01"})

    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_request", answer
    assert "amount" in answer["error"]["message"], answer


def test_without_a_token_the_client_cannot_price(session: dict) -> None:
    body = {"orderId": fresh_order_id(), "amount": "0.01", "currency": "SGD", "description": "Latte x2"}

    status, answer = prepay(session, body)

    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_request", answer


def test_a_token_for_another_user_is_forbidden(session: dict, merchant_key: None) -> None:
    token = mint_order_token.mint(fresh_order_id(), "12.50", "SGD", "Latte x2", sub="oSomeoneElse")

    status, answer = prepay(session, {"orderToken": token})

    assert status == 403, answer
    assert answer["error"]["code"] == "forbidden", answer
