//! The handlers of the contract's routes: each a function of (dependencies, Request) → Response.
//!
//! The Lambda binaries and the sandbox call these same handlers. Every expected outcome becomes an
//! HTTP answer here; nothing is returned as an `Err` to the runtime.

pub mod notify;
pub mod openid;
pub mod prepay;
pub mod reconcile;

pub use notify::NotifyHandler;
pub use openid::OpenidHandler;
pub use prepay::PrepayHandler;
pub use reconcile::ReconcileHandler;
