//! The whole flow over HTTP against a running sandbox: log in, get a merchant-signed order, prepay,
//! pay in the simulated WeChat, 2C2P's signed notification to /notify (or its loss, and
//! reconciliation), the order's final status and its fulfilment events. In memory by default; the
//! `dynamodb` test runs the same flow on DynamoDB (moto), started by scripts/test.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use sandbox::{Running, StoreChoice, start};
use serde_json::{Value, json};
use simulator::PayResult;

struct Sandbox {
    running: Running,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Sandbox {
    async fn start(store: StoreChoice) -> Sandbox {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = start(listener, store, async {
            let _ = stopped.await;
        })
        .await
        .expect("sandbox starts");
        Sandbox { running, http: reqwest::Client::new(), _stop: stop }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.addr)
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sandbox answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.url(path)).bearer_auth(token).send().await.expect("sandbox answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Logs in and returns (session token, openid).
    async fn login(&self, name: &str) -> (String, String) {
        let (status, body) = self.post("/openid", None, json!({"code": format!("sandbox-{name}")})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (body["token"].as_str().expect("token").to_owned(), body["openid"].as_str().expect("openid").to_owned())
    }

    /// The merchant's backend signs the order for this user.
    async fn order_token(&self, order_id: &str, amount: &str, sub: &str) -> String {
        let order =
            json!({"orderId": order_id, "amount": amount, "currency": "SGD", "description": "Latte x2", "sub": sub});
        let (status, body) = self.post("/sandbox/orders", None, order).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["orderToken"].as_str().expect("orderToken").to_owned()
    }

    async fn prepay(&self, (token, openid): &(String, String), order_id: &str) -> Value {
        let order_token = self.order_token(order_id, "12.50", openid).await;
        let (status, body) = self.post("/prepay", Some(token), json!({"orderToken": order_token})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn events_of(&self, order_id: &str) -> Vec<Value> {
        let response = self.http.get(self.url("/sandbox/events")).send().await.expect("events");
        let body: Value = response.json().await.expect("json");
        let events = body["events"].as_array().cloned().unwrap_or_default();
        events.into_iter().filter(|e| e["detail"]["orderId"] == order_id).collect()
    }

    async fn pay(&self, key: &str, result: &str) -> (StatusCode, Value) {
        self.post(&format!("/sandbox/pay/{key}"), None, json!({"result": result})).await
    }
}

fn prepay_id(prepaid: &Value) -> String {
    let package = prepaid["payment"]["package"].as_str().expect("package");
    package.strip_prefix("prepay_id=").expect("prepay_id=…").to_owned()
}

async fn pay_flow(sandbox: &Sandbox) {
    let user = sandbox.login("alice").await;
    let token = user.0.clone();
    let order_id = format!("E2E-{}", sandbox.running.addr.port());
    let prepaid = sandbox.prepay(&user, &order_id).await;
    assert_eq!(prepaid["amount"], "12.50", "the merchant's price");
    assert_eq!(prepaid["status"], "pending");
    let (status, body) = sandbox.get(&format!("/orders/{order_id}"), &token).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("pending")));

    let (status, body) = sandbox.pay(&prepay_id(&prepaid), "success").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["notifyStatus"], 200);
    let (_, order) = sandbox.get(&format!("/orders/{order_id}"), &token).await;
    assert_eq!(order["status"], "paid", "{order}");
    assert_eq!(order["invoiceNo"], prepaid["invoiceNo"]);
    assert!(order["paidAt"].is_string());

    // Copies of the same signed notification, all at once: each acknowledged, nothing changes.
    let invoice = prepaid["invoiceNo"].as_str().expect("invoice");
    let envelope = sandbox.running.simulator.notification_envelope(invoice, PayResult::Success).expect("known invoice");
    let form = protocol::envelope::form_body("paymentResponse", &envelope);
    let mut copies = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let request = sandbox
            .http
            .post(sandbox.url("/notify"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone());
        copies.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    for status in copies.join_all().await {
        assert_eq!(status.expect("notify answers"), StatusCode::OK);
    }
    let (_, again) = sandbox.get(&format!("/orders/{order_id}"), &token).await;
    assert_eq!(again, order, "replays change nothing: same status, same updatedAt");

    let again_token = sandbox.order_token(&order_id, "12.50", &user.1).await;
    let (status, body) = sandbox.post("/prepay", Some(&token), json!({"orderToken": again_token})).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::CONFLICT, &json!("already_paid")));
}

/// The attack of the order-token issue: the client names its own price. Refused by default.
#[tokio::test]
async fn the_client_cannot_choose_the_price() {
    let sandbox = Sandbox::start(StoreChoice::Memory).await;
    let (token, _) = sandbox.login("mallory").await;
    let forged = json!({"orderId": "SHOP-1001", "amount": "0.01", "currency": "SGD", "description": "Latte"});
    let (status, body) = sandbox.post("/prepay", Some(&token), forged.clone()).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::BAD_REQUEST, &json!("invalid_request")), "{body}");
    let with_token = json!({"orderToken": "x.y.z", "amount": "0.01"});
    let (status, body) = sandbox.post("/prepay", Some(&token), with_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("amount")), "{body}");
    // Only the comparison switch lets the client choose.
    let switched = sandbox.http.put(sandbox.url("/sandbox/settings")).json(&json!({"clientPricing": true})).send();
    assert_eq!(switched.await.expect("settings").status(), StatusCode::OK);
    let (status, body) = sandbox.post("/prepay", Some(&token), forged).await;
    assert_eq!((status, &body["amount"]), (StatusCode::OK, &json!("0.01")), "{body}");
}

/// A payment whose notification never arrives is found by reconciliation (every 2 s in the sandbox),
/// and the merchant's systems get `Order Paid` all the same.
#[tokio::test]
async fn a_lost_notification_is_recovered_and_published() {
    let sandbox = Sandbox::start(StoreChoice::Memory).await;
    let user = sandbox.login("carol").await;
    let prepaid = sandbox.prepay(&user, "E2E-LOST").await;
    let invoice = prepaid["invoiceNo"].as_str().expect("invoice");
    let (status, body) =
        sandbox.post(&format!("/sandbox/pay/{invoice}"), None, json!({"result": "success", "notify": false})).await;
    assert_eq!((status, &body["notified"]), (StatusCode::OK, &json!(false)), "{body}");
    let mut paid = Value::Null;
    for _ in 0..40 {
        let (_, order) = sandbox.get("/orders/E2E-LOST", &user.0).await;
        if order["status"] == "paid" {
            paid = order;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(paid["status"], "paid", "reconciliation or the read's inquiry found the payment");
    let mut events = Vec::new();
    for _ in 0..20 {
        events = sandbox.events_of("E2E-LOST").await;
        if events.iter().any(|e| e["detailType"] == "Order Paid") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let paid_event = events.iter().find(|e| e["detailType"] == "Order Paid").expect("an Order Paid event");
    assert_eq!(paid_event["source"], "wcmini.payments");
    assert_eq!(paid_event["detail"]["openid"], json!(user.1));
    assert_eq!(paid_event["detail"]["paidInvoiceNo"], json!(invoice));
    assert!(paid_event["detail"]["eventId"].as_str().is_some_and(|id| id.starts_with("E2E-LOST:")));
    assert!(events.iter().any(|e| e["detailType"] == "Order Pending"), "the new order was published too");
    assert_eq!(events.iter().filter(|e| e["detailType"] == "Order Paid").count(), 1, "one change, one event");
}

#[tokio::test]
async fn the_sandbox_refuses_any_dynamodb_but_a_loopback_one() {
    for endpoint in
        [None, Some("https://dynamodb.us-east-1.amazonaws.com"), Some("http://10.0.0.5:8000"), Some("nonsense")]
    {
        assert!(sandbox::check_local_endpoint(endpoint, None).is_err(), "{endpoint:?}");
    }
    for endpoint in ["http://127.0.0.1:8000", "http://localhost:4566", "http://[::1]:8000"] {
        assert_eq!(sandbox::check_local_endpoint(Some(endpoint), None), Ok(()), "{endpoint}");
        assert_eq!(sandbox::check_local_endpoint(Some(endpoint), Some("false")), Ok(()), "{endpoint}");
        // The SDK would skip a loopback endpoint and go to the real DynamoDB.
        let refused = sandbox::check_local_endpoint(Some(endpoint), Some("TRUE"));
        assert!(refused.is_err_and(|why| why.contains("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")), "{endpoint}");
    }
}

#[tokio::test]
async fn log_in_prepay_pay_and_see_it_paid() {
    let sandbox = Sandbox::start(StoreChoice::Memory).await;
    pay_flow(&sandbox).await;
}

#[tokio::test]
async fn a_declined_payment_reads_failed_and_can_be_retried() {
    let sandbox = Sandbox::start(StoreChoice::Memory).await;
    let user = sandbox.login("bob").await;
    let token = user.0.clone();
    let prepaid = sandbox.prepay(&user, "E2E-FAIL").await;
    let invoice = prepaid["invoiceNo"].as_str().expect("invoice");
    let (status, body) = sandbox.pay(invoice, "fail").await;
    assert_eq!((status, &body["notifyStatus"]), (StatusCode::OK, &json!(200)));
    let (_, order) = sandbox.get("/orders/E2E-FAIL", &token).await;
    assert_eq!(order["status"], "failed", "{order}");
    assert!(order["failReason"].is_string());
    let retry = sandbox.prepay(&user, "E2E-FAIL").await;
    assert_ne!(retry["invoiceNo"], prepaid["invoiceNo"], "a retry is a new attempt");
    sandbox.pay(&prepay_id(&retry), "success").await;
    let (_, order) = sandbox.get("/orders/E2E-FAIL", &token).await;
    assert_eq!(order["status"], "paid");
}

#[tokio::test]
async fn unknown_keys_bad_codes_and_the_page() {
    let sandbox = Sandbox::start(StoreChoice::Memory).await;
    let (status, body) = sandbox.pay("NOSUCHINVOICE", "success").await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::NOT_FOUND, &json!("not_found")));
    let (status, body) = sandbox.post("/openid", None, json!({"code": "sandbox-invalid"})).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::UNAUTHORIZED, &json!("invalid_code")));
    let (status, body) = sandbox.post("/openid", None, json!({"code": "sandbox-busy"})).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::BAD_GATEWAY, &json!("upstream_error")));

    let page = sandbox.http.get(sandbox.url("/")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("html").contains("/client/payments.js"), "the page loads the client module");
    let client = sandbox.http.get(sandbox.url("/client/payments.js")).send().await.expect("client");
    assert_eq!(
        client.text().await.expect("js"),
        include_str!("../../miniprogram/payments.js"),
        "the same module a mini program uses"
    );
}

#[tokio::test]
#[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]
async fn dynamodb_log_in_prepay_pay_and_see_it_paid() {
    let table_name =
        std::env::var("DYNAMODB_TEST_TABLE").expect("DYNAMODB_TEST_TABLE names the table scripts/test created");
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "AWS_ENDPOINT_URL_DYNAMODB must point at the local server; scripts/test sets it"
    );
    let sandbox = Sandbox::start(StoreChoice::Dynamo { table_name }).await;
    pay_flow(&sandbox).await;
}
