//! The one AWS SDK configuration every adapter (DynamoDB, EventBridge, Secrets Manager) is built from.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use crate::startup::or_exit;
use crate::tls;

/// The AWS configuration of a function, with every request bounded, retries included, so a stuck
/// service fails well before Lambda's timeout, and our HTTPS client ([`tls::aws_http_client`]:
/// compiled-in roots, no system store). Loading it makes no network call.
///
/// The region and credentials are the environment's (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: Lambda sets them), and so are
/// `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL`: no provider chains, no profile files, none of
/// their code in the artifact. Without them the process exits at start with one line, unless the
/// `aws-provider-chain` feature (for tools people run, like payments-admin) lets the standard chains
/// of `aws_config::defaults` find them.
pub async fn sdk_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(3))
        .build();
    let http = or_exit(tls::aws_http_client());
    match from_environment() {
        Ok(region) => SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
            .http_client(http)
            .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
            .time_source(SharedTimeSource::new(SystemTimeSource::new()))
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard())
            .service_config(EnvServiceConfig)
            .build(),
        #[cfg(feature = "aws-provider-chain")]
        Err(_) => {
            aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).http_client(http).load().await
        }
        #[cfg(not(feature = "aws-provider-chain"))]
        Err(missing) => or_exit(Err(missing)),
    }
}

/// The environment lacks the region or the credentials (Lambda always sets both).
#[derive(Debug, thiserror::Error)]
#[error(
    "configuration: {0} is required but not set (Lambda sets it; elsewhere set it, or build with the aws-provider-chain feature)"
)]
pub struct MissingAwsSetting(&'static str);

/// The region, once the environment has it and the credentials.
fn from_environment() -> Result<Region, MissingAwsSetting> {
    let region = env_nonempty("AWS_REGION").or_else(|| env_nonempty("AWS_DEFAULT_REGION"));
    let region = region.ok_or(MissingAwsSetting("AWS_REGION"))?;
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        env_nonempty(name).ok_or(MissingAwsSetting(name))?;
    }
    Ok(Region::new(region))
}

/// Per-service settings from the environment alone: `AWS_ENDPOINT_URL_DYNAMODB` (the service id in
/// capitals, spaces as `_`), else `AWS_ENDPOINT_URL`, unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
#[derive(Debug)]
struct EnvServiceConfig;

impl LoadServiceConfig for EnvServiceConfig {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let ignored =
            env_nonempty("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if ignored && key.env() == "AWS_ENDPOINT_URL" {
            return None;
        }
        let service = key.service_id().to_ascii_uppercase().replace(' ', "_");
        env_nonempty(&format!("{}_{service}", key.env())).or_else(|| env_nonempty(key.env()))
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint_of(service: &str) -> Option<String> {
        let key =
            ServiceConfigKey::builder().service_id(service).env("AWS_ENDPOINT_URL").profile("endpoint_url").build();
        key.ok().and_then(|key| EnvServiceConfig.load_config(key))
    }

    #[test]
    fn a_service_endpoint_comes_from_its_own_variable() {
        // No other test reads this variable, and the SDK's name for the service has a space.
        unsafe { std::env::set_var("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1") };
        assert_eq!(endpoint_of("Secrets Manager").as_deref(), Some("http://127.0.0.1:1"));
    }
}
