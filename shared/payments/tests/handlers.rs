//! The HTTP edges (`POST /openid`, `POST /prepay`, `GET /orders/{orderId}`, `POST /notify`) through
//! the real handlers, in one test binary: over the in-memory store, against simulated WeChat and 2C2P.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "handlers/defects.rs"]
mod defects;
#[path = "handlers/notify.rs"]
mod notify;
#[path = "handlers/openid.rs"]
mod openid;
#[path = "handlers/order_tokens.rs"]
mod order_tokens;
#[path = "handlers/orders.rs"]
mod orders;
#[path = "handlers/prepay.rs"]
mod prepay;
#[path = "handlers/round_trips.rs"]
mod round_trips;
