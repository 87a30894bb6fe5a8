//! The wire formats, and nothing else: no I/O, no async, no AWS.
//!
//! - [`money`]: minor units and the one currency table;
//! - [`envelope`]: 2C2P's signed envelope (HMAC-SHA256 over the payload's base64 text), verified against
//!   one key or, during a key rotation, several;
//! - [`securepay`]: the SecurePay 9.9 WCMINI request, response and notification;
//! - [`outcome`]: what a respCode/status pair means;
//! - [`inquiry`]: Payment Action 3.4 inquiry with its HMAC-SHA1 hashValue, and what an answer means
//!   for reconciliation (its status table and its two amount forms);
//! - [`wechat`]: the code2Session answer;
//! - [`description`]: the `desc` cleaning rule.

#![warn(missing_docs)]

pub mod description;
pub mod envelope;
pub mod inquiry;
pub mod money;
pub mod outcome;
pub mod securepay;
pub mod timestamp;
pub mod wechat;
