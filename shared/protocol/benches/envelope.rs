//! What each request spends in the wire formats: building a signed SecurePay request, and opening
//! and reading a signed response or notification. `cargo bench -p protocol`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use protocol::envelope;
use protocol::securepay::{PaymentRequest, PaymentResponse, RequestMiniProgramData, WCMINI, WechatPayer};

const KEY: &[u8] = b"S3cretKeyForTests";

fn request() -> PaymentRequest {
    PaymentRequest {
        time_stamp: "261126120000".into(),
        merchant_id: "M0001".into(),
        unique_transaction_code: "INV20261126000001".into(),
        desc: "Latte x2".into(),
        amt: "000000001250".into(),
        currency_code: "702".into(),
        pan_country: None,
        cardholder_name: None,
        payment_channel: WCMINI.into(),
        user_defined1: Some("A-1001".into()),
        user_defined2: None,
        user_defined3: None,
        user_defined4: None,
        user_defined5: None,
        payment_expiry: None,
        mini_program_data: RequestMiniProgramData {
            wechat: WechatPayer { app_id: "wx1234567890abcdef".into(), open_id: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into() },
        },
    }
}

fn benches(c: &mut Criterion) {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../tests/data/vectors.json")).unwrap_or(serde_json::Value::Null);
    let response_body = vectors["response_body"].as_str().unwrap_or_default().to_owned();
    let notification = PaymentResponse {
        resp_code: "000".into(),
        status: "A".into(),
        merchant_id: "M0001".into(),
        unique_transaction_code: "INV20261126000001".into(),
        amt: "000000001250".into(),
        currency_code: "702".into(),
        ..PaymentResponse::default()
    }
    .seal(KEY);

    c.bench_function("securepay request: build, sign, form-encode", |b| {
        let request = request();
        b.iter(|| black_box(request.to_form_body(black_box(KEY))))
    });
    c.bench_function("securepay response: verify and read (vectors.json)", |b| {
        b.iter(|| black_box(PaymentResponse::open(black_box(&response_body), KEY)))
    });
    c.bench_function("notification: verify only (bad signature path)", |b| {
        b.iter(|| black_box(envelope::open(black_box(&notification), b"wrong key")))
    });
    c.bench_function("notification: verify and read", |b| {
        b.iter(|| black_box(PaymentResponse::open(black_box(&notification), KEY)))
    });
}

criterion_group!(envelope_benches, benches);
criterion_main!(envelope_benches);
