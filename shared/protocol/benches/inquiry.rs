//! What one reconciliation inquiry spends in the wire format: building the signed request, and
//! checking and reading the answer. `cargo bench -p protocol --bench inquiry`.

// A benchmark that panics has failed: its set-up may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use protocol::inquiry::{InquiryRequest, InquiryResponse, classify_inquiry, parse_inquiry_amount};
use protocol::money::Currency;

const KEY: &[u8] = b"S3cretKeyForTests";

fn answer() -> String {
    InquiryResponse {
        version: "3.4".into(),
        resp_code: "00".into(),
        process_type: "I".into(),
        invoice_no: "INV20261126000001".into(),
        amount: "000000001250".into(),
        status: "A".into(),
        approval_code: "123456".into(),
        reference_no: "8812345".into(),
        transaction_date_time: "261126120500".into(),
        paid_agent: "WECHAT".into(),
        paid_channel: "WECHAT".into(),
        ..InquiryResponse::default()
    }
    .seal(KEY)
}

fn benches(c: &mut Criterion) {
    c.bench_function("inquiry: build and sign the request", |b| {
        b.iter(|| InquiryRequest::new(black_box("M0001"), black_box("INV20261126000001"), KEY).to_form_body())
    });
    let sealed = answer();
    let sgd = Currency::from_code("SGD").expect("SGD");
    c.bench_function("inquiry: verify, read and classify the answer", |b| {
        b.iter(|| {
            let answer = InquiryResponse::open_with_keys(black_box(&sealed), &[KEY]).expect("verifies");
            (classify_inquiry(&answer.resp_code, &answer.status), parse_inquiry_amount(&answer.amount, sgd))
        })
    });
    let mut corrupted = sealed.clone();
    corrupted.push_str("AAAA");
    c.bench_function("inquiry: refuse a corrupted answer", |b| {
        b.iter(|| InquiryResponse::open_with_keys(black_box(&corrupted), &[KEY]).is_err())
    });
}

criterion_group!(inquiry, benches);
criterion_main!(inquiry);
