//! The port to the event bus, and its in-memory adapter (the sandbox's `GET /sandbox/events`, tests).

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

use thiserror::Error;
use tokio::time::Instant;

use super::OrderEvent;

/// Most entries one `PutEvents` call takes.
pub const MAX_ENTRIES: usize = 10;

/// What the bus made of one entry. A refusal carries EventBridge's error code only: its message
/// may quote the entry, and the entry carries the payer's openid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    /// The bus accepted the entry; its targets will receive it.
    Published,
    /// The bus refused the entry; the record is reported failed and retried.
    Refused {
        /// EventBridge's error code only (its message may quote the payer's openid).
        code: String,
    },
}

/// Why a whole call failed: no entry of it may be taken as published.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PublishError {
    /// The deadline left no time for a call; the records are retried by the next invocation.
    #[error("no time left before the deadline to publish")]
    OutOfTime,
    /// EventBridge answered `ThrottlingException`; a retry later should go through.
    #[error("EventBridge is throttling requests")]
    Throttled,
    /// The call failed (network, timeout, an error code or a short answer); the message says which, without the entries.
    #[error("EventBridge is unavailable: {0}")]
    Unavailable(String),
    /// Our bug: a call was given no entries or more than [`MAX_ENTRIES`].
    #[error("a PutEvents call takes 1 to {MAX_ENTRIES} entries, not {0}")]
    BatchSize(usize),
    /// An event's detail could not be turned into JSON.
    #[error("an event could not be encoded: {0}")]
    Encoding(String),
}

/// Puts events on the bus: one call for at most [`MAX_ENTRIES`] events, answered entry by entry
/// (in the order given), and bounded by `deadline`.
pub trait EventPublisher: Send + Sync {
    /// Publishes `events` in one call, answering one outcome per event in the same order.
    fn put_events(
        &self,
        events: &[OrderEvent],
        deadline: Instant,
    ) -> impl Future<Output = Result<Vec<EntryOutcome>, PublishError>> + Send;
}

/// One publisher shared by several users (the sandbox's store and its events route).
impl<P: EventPublisher> EventPublisher for std::sync::Arc<P> {
    fn put_events(
        &self,
        events: &[OrderEvent],
        deadline: Instant,
    ) -> impl Future<Output = Result<Vec<EntryOutcome>, PublishError>> + Send {
        (**self).put_events(events, deadline)
    }
}

/// How many events the in-memory publisher keeps: the sandbox runs for hours, and a page lists a few.
pub const MEMORY_CAPACITY: usize = 1000;

/// The error code the in-memory publisher gives an entry it was told to fail, as EventBridge would.
pub const INJECTED_FAILURE_CODE: &str = "InternalFailure";

/// Keeps published events in memory, newest first; can be told to refuse the next entries.
#[derive(Debug)]
pub struct MemoryPublisher {
    state: Mutex<MemoryState>,
}

#[derive(Debug)]
struct MemoryState {
    events: VecDeque<OrderEvent>,
    capacity: usize,
    fail_next: usize,
    /// Orders whose every entry is refused, until [`MemoryPublisher::refuse_order`] is told otherwise.
    refused_orders: HashSet<String>,
}

impl Default for MemoryPublisher {
    fn default() -> Self {
        Self::with_capacity(MEMORY_CAPACITY)
    }
}

impl MemoryPublisher {
    /// An empty publisher keeping the last [`MEMORY_CAPACITY`] events, for the sandbox and tests.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps at most `capacity` events, dropping the oldest.
    pub fn with_capacity(capacity: usize) -> Self {
        let state = MemoryState { events: VecDeque::new(), capacity, fail_next: 0, refused_orders: HashSet::new() };
        Self { state: Mutex::new(state) }
    }

    /// Refuses the next `entries` entries (with [`INJECTED_FAILURE_CODE`]), as EventBridge may.
    pub fn fail_next(&self, entries: usize) {
        self.lock().fail_next = entries;
    }

    /// Refuses every entry of `order_id` (with [`INJECTED_FAILURE_CODE`]) while `refuse` holds, as a bus
    /// that keeps refusing one event would, however often it is sent again.
    pub fn refuse_order(&self, order_id: &str, refuse: bool) {
        let mut state = self.lock();
        if refuse {
            state.refused_orders.insert(order_id.to_owned());
        } else {
            state.refused_orders.remove(order_id);
        }
    }

    /// The events published so far, newest first.
    pub fn events(&self) -> Vec<OrderEvent> {
        self.lock().events.iter().cloned().collect()
    }

    /// A panic elsewhere cannot leave the list half-written, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventPublisher for MemoryPublisher {
    async fn put_events(&self, events: &[OrderEvent], deadline: Instant) -> Result<Vec<EntryOutcome>, PublishError> {
        if events.is_empty() || events.len() > MAX_ENTRIES {
            return Err(PublishError::BatchSize(events.len()));
        }
        if Instant::now() >= deadline {
            return Err(PublishError::OutOfTime);
        }
        let mut state = self.lock();
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            if state.refused_orders.contains(event.order_id()) {
                outcomes.push(EntryOutcome::Refused { code: INJECTED_FAILURE_CODE.to_owned() });
                continue;
            }
            if state.fail_next > 0 {
                state.fail_next -= 1;
                outcomes.push(EntryOutcome::Refused { code: INJECTED_FAILURE_CODE.to_owned() });
                continue;
            }
            state.events.push_front(event.clone());
            let capacity = state.capacity;
            state.events.truncate(capacity);
            outcomes.push(EntryOutcome::Published);
        }
        Ok(outcomes)
    }
}
