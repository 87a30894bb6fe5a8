//! The domain and its ports, above the wire formats of `protocol` and below the thin Lambda binaries.
#![warn(missing_docs)]

pub mod api;
pub mod aws;
pub mod clock;
pub mod config;
pub mod deadline;
pub mod fulfilment;
pub mod handlers;
pub mod ids;
pub mod metrics;
pub mod order;
pub mod order_token;
pub mod secret;
pub mod session;
pub mod startup;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod timefmt;
pub mod tls;
pub mod upstream;
pub mod usecases;
pub mod views;
