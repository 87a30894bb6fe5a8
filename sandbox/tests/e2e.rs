//! The whole flow over HTTP against a running sandbox: log in, prepay, pay in the simulated WeChat,
//! 2C2P's signed notification to /notify, and the order's final status. In memory by default; the
//! `dynamodb` test runs the same flow on DynamoDB (moto), started by scripts/test.

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

    async fn login(&self, name: &str) -> String {
        let (status, body) = self.post("/openid", None, json!({"code": format!("sandbox-{name}")})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    async fn prepay(&self, token: &str, order_id: &str) -> Value {
        let order = json!({"orderId": order_id, "amount": "12.50", "currency": "SGD", "description": "Latte x2"});
        let (status, body) = self.post("/prepay", Some(token), order).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
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
    let token = sandbox.login("alice").await;
    let order_id = format!("E2E-{}", sandbox.running.addr.port());
    let prepaid = sandbox.prepay(&token, &order_id).await;
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

    let (status, body) = sandbox
        .post(
            "/prepay",
            Some(&token),
            json!({"orderId": order_id, "amount": "12.50", "currency": "SGD", "description": "x"}),
        )
        .await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::CONFLICT, &json!("already_paid")));
}

#[tokio::test]
async fn log_in_prepay_pay_and_see_it_paid() {
    let sandbox = Sandbox::start(StoreChoice::Memory).await;
    pay_flow(&sandbox).await;
}

#[tokio::test]
async fn a_declined_payment_reads_failed_and_can_be_retried() {
    let sandbox = Sandbox::start(StoreChoice::Memory).await;
    let token = sandbox.login("bob").await;
    let prepaid = sandbox.prepay(&token, "E2E-FAIL").await;
    let invoice = prepaid["invoiceNo"].as_str().expect("invoice");
    let (status, body) = sandbox.pay(invoice, "fail").await;
    assert_eq!((status, &body["notifyStatus"]), (StatusCode::OK, &json!(200)));
    let (_, order) = sandbox.get("/orders/E2E-FAIL", &token).await;
    assert_eq!(order["status"], "failed", "{order}");
    assert!(order["failReason"].is_string());
    let retry = sandbox.prepay(&token, "E2E-FAIL").await;
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
