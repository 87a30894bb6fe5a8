//! What each request spends in the wire formats: building a signed SecurePay request, and opening
//! and reading a signed response or notification. `cargo bench -p protocol`.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use protocol::envelope;
use protocol::securepay::{PaymentRequest, PaymentResponse, WcminiFields};

const KEY: &[u8] = b"S3cretKeyForTests";

fn request() -> PaymentRequest {
    PaymentRequest::wcmini(WcminiFields {
        time_stamp: "261126120000",
        merchant_id: "M0001",
        invoice_no: "INV20261126000001",
        desc: "Latte x2",
        amt: "000000001250",
        currency_code: "702",
        app_id: "wx1234567890abcdef",
        open_id: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    })
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
