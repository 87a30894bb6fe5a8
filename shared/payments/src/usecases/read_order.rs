//! `GET /orders/{orderId}`: the stored order, checked with 2C2P first when its result may be late.

use std::time::Duration;

use super::inquiry::inquire_attempt;
use crate::clock::Clock;
use crate::deadline::Deadline;
use crate::ids::{OpenId, OrderId};
use crate::metrics::Metrics;
use crate::order::Order;
use crate::store::{OrderStore, StoreError};
use crate::upstream::PgwClient;

/// An order is inquired on read at most this often, whoever reads it.
pub const MIN_SECONDS_BETWEEN_READ_INQUIRIES: i64 = 10;
/// How long a read may spend asking 2C2P before it answers the stored state.
pub const READ_INQUIRY_BOUND: Duration = Duration::from_secs(3);

/// The order of `openid` (another user's order reads as missing). A pending or expired order whose
/// attempt has payment parameters is inquired first, at most once per 10 seconds per order (a
/// conditional write of the inquiry time, so concurrent polls do not multiply calls), within 3 seconds;
/// if 2C2P cannot be asked, the stored state is the answer.
pub async fn read_order<S: OrderStore>(
    store: &S,
    pgw: &PgwClient,
    clock: &Clock,
    openid: &OpenId,
    order_id: &OrderId,
    deadline: &Deadline,
    metrics: &Metrics,
) -> Result<Option<Order>, StoreError> {
    let read = deadline.run(Duration::ZERO, store.get_order(order_id), || StoreError::OutOfTime).await?;
    let Some(order) = read.filter(|o| o.openid == *openid) else {
        return Ok(None);
    };
    let now = clock.now();
    if !order.worth_inquiring(now) {
        return Ok(Some(order));
    }
    let bound = deadline.capped(READ_INQUIRY_BOUND);
    let claim = store.claim_inquiry(&order.invoice_no, now, MIN_SECONDS_BETWEEN_READ_INQUIRIES);
    let claimed = match bound.run(Duration::ZERO, claim, || StoreError::OutOfTime).await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => return Ok(Some(order)),
        Err(error) => {
            tracing::warn!(order = %order_id, %error, "could not claim an inquiry; answering the stored state");
            return Ok(Some(order));
        }
    };
    match Box::pin(inquire_attempt(store, pgw, &claimed, clock, &bound, Duration::ZERO, metrics)).await {
        Ok(inquired) => Ok(inquired.applied.order().cloned().or(Some(order))),
        Err(error) => {
            tracing::warn!(order = %order_id, %error, "inquiry on read failed; answering the stored state");
            Ok(Some(order))
        }
    }
}
