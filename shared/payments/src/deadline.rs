//! Each request's deadline: every outbound call is bounded by the time left, keeping a reserve for
//! what must still happen after it (recording a failure, answering), so an answer always comes
//! before Lambda cuts the invocation off.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Time kept back for building the answer and handing it to the runtime.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(300);

/// When the request must have been answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// A deadline `budget` from now (the sandbox, tests, and requests without a Lambda context).
    pub fn after(budget: Duration) -> Self {
        Self { at: Instant::now() + budget }
    }

    /// The Lambda context's deadline, in milliseconds since the Unix epoch.
    pub fn from_epoch_millis(deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let left = u128::from(deadline_ms).saturating_sub(now_ms);
        Self::after(Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX)))
    }

    /// The deadline a Lambda context carries, or `fallback` from now when it carries none that is
    /// believable: local emulators (`cargo lambda watch` sends a constant 600000) put a number of
    /// milliseconds there that is decades in the past, which would cut every call off at once.
    pub fn from_lambda(deadline_ms: u64, fallback: Duration) -> Self {
        /// 2001-09-09 in milliseconds: any real invocation's deadline is later.
        const BELIEVABLE_FROM_MS: u64 = 1_000_000_000_000;
        if deadline_ms < BELIEVABLE_FROM_MS { Self::after(fallback) } else { Self::from_epoch_millis(deadline_ms) }
    }

    /// When the deadline is, as a tokio instant (for adapters that take one).
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// Time left until the deadline.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Time a call may take if `reserve` must be left after it (and the answer margin).
    pub fn budget(&self, reserve: Duration) -> Duration {
        self.remaining().saturating_sub(reserve + ANSWER_MARGIN)
    }

    /// A deadline no later than this one and at most `cap` from now (an inquiry inside a read, say).
    pub fn capped(&self, cap: Duration) -> Self {
        Self { at: self.at.min(Instant::now() + cap) }
    }

    /// Runs `call`, giving up with `out_of_time()` once only `reserve` (and the answer margin) is left.
    pub async fn run<T, E>(
        &self,
        reserve: Duration,
        call: impl Future<Output = Result<T, E>>,
        out_of_time: impl FnOnce() -> E,
    ) -> Result<T, E> {
        match tokio::time::timeout(self.budget(reserve), call).await {
            Ok(result) => result,
            Err(_) => Err(out_of_time()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_is_cut_off_leaving_its_reserve() {
        let deadline = Deadline::after(Duration::from_millis(900));
        let started = Instant::now();
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, &str>(1)
        };
        assert_eq!(deadline.run(Duration::from_millis(300), slow, || "late").await, Err("late"));
        let took = started.elapsed();
        assert!(took < Duration::from_millis(500), "took {took:?}: 900 - 300 reserve - 300 margin");
        let fast = async { Ok::<_, &str>(2) };
        assert_eq!(Deadline::after(Duration::from_secs(1)).run(Duration::ZERO, fast, || "late").await, Ok(2));
    }

    #[tokio::test]
    async fn an_unbelievable_lambda_deadline_falls_back() {
        let emulated = Deadline::from_lambda(600_000, Duration::from_secs(15));
        assert!(emulated.remaining() > Duration::from_secs(14), "cargo lambda watch's constant is no deadline");
        let real_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let real_ms = u64::try_from(real_ms).unwrap_or(u64::MAX) + 5_000;
        let real = Deadline::from_lambda(real_ms, Duration::from_secs(15));
        assert!(real.remaining() <= Duration::from_secs(5) && real.remaining() > Duration::from_secs(4));
    }

    #[test]
    fn a_past_deadline_leaves_nothing() {
        let past = Deadline::from_epoch_millis(1_000);
        assert_eq!(past.remaining(), Duration::ZERO);
        assert_eq!(past.budget(Duration::from_secs(1)), Duration::ZERO);
        let capped = Deadline::after(Duration::from_secs(60)).capped(Duration::from_secs(3));
        assert!(capped.remaining() <= Duration::from_secs(3));
    }
}
