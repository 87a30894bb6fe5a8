//! What the `events` function spends per stream record in our code: reading the two images and
//! mapping them to a fulfilment event. `cargo bench -p payments --bench event_mapping`.

// A benchmark that panics has failed: its set-up may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use payments::fulfilment::{event_from_images, order_event, records_from_event};
use payments::testing;

const SOURCE: &str = "wcmini.payments";

fn benches(c: &mut Criterion) {
    let event = serde_json::from_str(include_str!("../../../events/stream.json")).expect("events/stream.json");
    let record = records_from_event(event).pop().expect("one record");
    c.bench_function("events: images to an Order Paid event", |b| {
        b.iter(|| event_from_images(black_box(record.old_image.as_ref()), record.new_image.as_ref(), SOURCE))
    });
    let pending = testing::order("A-1001", "INV1");
    let paid = payments::order::Order { status: payments::order::StoredStatus::Paid, version: 2, ..pending.clone() };
    c.bench_function("events: order change to event (pure mapping)", |b| {
        b.iter(|| order_event(black_box(Some(&pending)), Some(&paid), SOURCE))
    });
    c.bench_function("events: serialize the event's detail", |b| {
        let mapped = order_event(Some(&pending), Some(&paid), SOURCE).expect("an event");
        b.iter(|| serde_json::to_string(black_box(&mapped.detail)))
    });
}

criterion_group!(event_mapping, benches);
criterion_main!(event_mapping);
