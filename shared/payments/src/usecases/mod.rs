//! The use cases: one module per flow, each a function of (ports, input) → a domain result. They know
//! nothing of HTTP; the handlers (and the sandbox, and the `reconcile` function) call them.
//!
//! - [`prepay`]: what a prepay decides: open an order, reuse its attempt, or start a new one, and ask 2C2P.
//! - [`apply`]: what happens to an order when 2C2P's evidence about one of its attempts arrives.
//! - [`notification`]: `POST /notify`: verify, keep, apply.
//! - [`inquiry`]: ask 2C2P about an attempt, keep the answer, apply it.
//! - [`reconcile`]: find the attempts due for an inquiry and inquire them.
//! - [`read_order`]: `GET /orders/{orderId}`, with an inquiry when the result may be late.

pub mod apply;
pub mod inquiry;
pub mod notification;
pub mod prepay;
pub mod read_order;
pub mod reconcile;

use std::time::Duration;

/// The longest a single store call may take when the deadline is far: the SDK's own operation timeout.
pub const STORE_CALL: Duration = Duration::from_secs(3);
