//! The one AWS SDK configuration every adapter (DynamoDB, EventBridge) is built from.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;

/// The standard AWS configuration (environment credentials and region, `AWS_ENDPOINT_URL_*`
/// overrides) with every request bounded, retries included, so a stuck service fails well before
/// Lambda's timeout. Loading it makes no network call: that waits for the first request.
pub async fn sdk_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(3))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts).load().await
}
