//! The domain and its ports, above the wire formats of `protocol` and below the thin Lambda binaries.

pub mod api;
pub mod clock;
pub mod config;
pub mod handlers;
pub mod order;
pub mod secret;
pub mod session;
pub mod store;
pub mod timefmt;
pub mod upstream;
