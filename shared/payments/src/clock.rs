//! Time as a dependency, so expiry can be tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::order::UnixSeconds;

/// Where handlers get "now" from.
#[derive(Clone)]
pub enum Clock {
    /// The system clock.
    System,
    /// A clock tests move by hand.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A test clock stopped at `start`, so expiry can be checked without sleeping.
    pub fn manual(start: UnixSeconds) -> Self {
        Self::Manual(Arc::new(AtomicI64::new(start)))
    }

    /// Unix seconds from this clock; a system clock before 1970 reads as 0 rather than failing.
    pub fn now(&self) -> UnixSeconds {
        match self {
            Self::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default(),
            Self::Manual(now) => now.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; the system clock ignores it.
    pub fn advance(&self, seconds: i64) {
        if let Self::Manual(now) = self {
            now.fetch_add(seconds, Ordering::SeqCst);
        }
    }
}
