//! Configuration from the environment (and `SECRETS_ARN`), checked once at start.
//!
//! A missing or malformed setting is an error naming the variable, so a function fails at start
//! with one clear line instead of on its first request. No error carries a secret's value.

use std::collections::HashMap;

use thiserror::Error;

use crate::secret::Secret;

/// Where SecurePay requests go when `PGW_PAYMENT_URL` is unset: 2C2P's demo, never production by accident.
pub const DEFAULT_PGW_PAYMENT_URL: &str = "https://demo2.2c2p.com/2C2PFrontEnd/SecurePayment/Payment.aspx";
/// Where inquiries go when `PGW_ACTION_URL` is unset: 2C2P's demo Payment Action endpoint.
pub const DEFAULT_PGW_ACTION_URL: &str = "https://demo2.2c2p.com/2C2PFrontend/PaymentActionV2/PaymentProcess.aspx";
/// WeChat's public API base, used unless `WECHAT_API_URL` points at a simulator.
pub const DEFAULT_WECHAT_API_URL: &str = "https://api.weixin.qq.com";
/// Session lifetime when `SESSION_TTL_SECONDS` is unset: two hours, as the contract says.
pub const DEFAULT_SESSION_TTL_SECONDS: i64 = 7200;
/// How long payment parameters stay usable when `PAYMENT_TTL_SECONDS` is unset: 15 minutes.
pub const DEFAULT_PAYMENT_TTL_SECONDS: i64 = 900;
/// Delay before an attempt's first inquiry, giving 2C2P's notification time to arrive first.
pub const DEFAULT_RECONCILE_AFTER_SECONDS: i64 = 120;
/// Attempts one reconcile run takes on when `RECONCILE_BATCH` is unset.
pub const DEFAULT_RECONCILE_BATCH: usize = 100;
/// Most attempts one reconcile run may take on: beyond this a run cannot finish within its deadline.
pub const MAX_RECONCILE_BATCH: usize = 1000;
/// The fulfilment events' EventBridge `Source` when `EVENT_SOURCE` is unset.
pub const DEFAULT_EVENT_SOURCE: &str = "wcmini.payments";
/// The secrets `SECRETS_ARN` may carry, as keys of its JSON.
pub const SECRET_NAMES: [&str; 7] = [
    "PGW_SECRET_KEY",
    "PGW_SECRET_KEY_PREVIOUS",
    "WECHAT_APP_SECRET",
    "SESSION_SECRET",
    "SESSION_SECRET_PREVIOUS",
    "ORDER_SIGNING_KEY",
    "ORDER_SIGNING_KEY_PREVIOUS",
];
/// Below this a session key is guessable; 32 bytes is what HS256 wants.
pub const MIN_SESSION_SECRET_LEN: usize = 32;
/// The same floor for the merchant's order key: it is an HS256 key too (RFC 7518 §3.2).
pub const MIN_ORDER_SIGNING_KEY_LEN: usize = 32;

/// Why a function refuses to start; the message names the variable and never shows a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A required variable is absent (and `SECRETS_ARN`, if set, does not carry it either).
    #[error("configuration: {0} is required but not set")]
    Missing(&'static str),
    /// A variable is set but fails its rule (not a URL, out of range, too short a key, ...).
    #[error("configuration: {var} is malformed: {reason}")]
    Malformed {
        /// The variable at fault, so the start-up line points at what to fix.
        var: &'static str,
        /// What rule it breaks, phrased without its value.
        reason: String,
    },
    /// A rotation left half done: the old key was copied into both variables.
    #[error("configuration: {var} is the same as {current}; set it to the key used before the rotation, or unset it")]
    PreviousSameAsCurrent {
        /// The `_PREVIOUS` variable that should hold the pre-rotation key.
        var: &'static str,
        /// The current-key variable it duplicates.
        current: &'static str,
    },
    /// `SECRETS_ARN` is set but Secrets Manager did not hand over the secret's text (access, network, binary secret).
    #[error("configuration: SECRETS_ARN could not be read: {0}")]
    SecretsUnavailable(String),
}

/// The raw settings: environment variables, with secrets from `SECRETS_ARN` filled in where unset.
#[derive(Clone, Default)]
pub struct Settings {
    vars: HashMap<String, String>,
}

impl Settings {
    /// Settings from explicit pairs (tests, the sandbox).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect() }
    }

    /// The process environment, then `SECRETS_ARN` (one Secrets Manager call) when it is set.
    pub async fn load() -> Result<Self, ConfigError> {
        let mut settings = Self { vars: std::env::vars().collect() };
        if let Some(arn) = settings.get("SECRETS_ARN") {
            let json = fetch_secret(&arn).await?;
            settings.merge_secret_json(&json)?;
        }
        Ok(settings)
    }

    /// Fills the secrets of [`SECRET_NAMES`] from the JSON of a Secrets Manager secret; a set
    /// variable wins, so an operator can override one secret without editing the shared one.
    pub fn merge_secret_json(&mut self, json: &str) -> Result<(), ConfigError> {
        let map: HashMap<String, serde_json::Value> = serde_json::from_str(json).map_err(|_| {
            ConfigError::Malformed { var: "SECRETS_ARN", reason: "the secret is not a JSON object".into() }
        })?;
        for name in SECRET_NAMES {
            if self.get(name).is_some() {
                continue;
            }
            match map.get(name) {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::String(value)) => {
                    self.vars.insert(name.to_owned(), value.clone());
                }
                // Silently skipping it would surface later as "missing", which misleads.
                Some(_) => {
                    return Err(ConfigError::Malformed {
                        var: "SECRETS_ARN",
                        reason: format!("the secret's {name} is not a JSON string"),
                    });
                }
            }
        }
        Ok(())
    }

    /// A variable's value; empty counts as unset (CloudFormation passes empty parameters as "").
    pub fn get(&self, var: &str) -> Option<String> {
        self.vars.get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn required(&self, var: &'static str) -> Result<String, ConfigError> {
        self.get(var).ok_or(ConfigError::Missing(var))
    }

    fn secret(&self, var: &'static str) -> Result<Secret, ConfigError> {
        self.required(var).map(Secret::new)
    }

    fn url(&self, var: &'static str, default: &str) -> Result<String, ConfigError> {
        let value = self.get(var).unwrap_or_else(|| default.to_owned());
        let parsed = reqwest::Url::parse(&value)
            .map_err(|e| ConfigError::Malformed { var, reason: format!("not a URL ({e})") })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigError::Malformed { var, reason: "must be an http or https URL".into() });
        }
        Ok(value.trim_end_matches('/').to_owned())
    }

    fn seconds(&self, var: &'static str, default: i64) -> Result<i64, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(text) => match text.parse::<i64>() {
                Ok(value) if (1..=31_536_000).contains(&value) => Ok(value),
                _ => Err(ConfigError::Malformed {
                    var,
                    reason: "must be a whole number of seconds from 1 to 31536000".into(),
                }),
            },
        }
    }

    fn flag(&self, var: &'static str) -> Result<bool, ConfigError> {
        match self.get(var).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            // A typo must not flip a security switch either way without anyone noticing.
            Some(_) => Err(ConfigError::Malformed { var, reason: "must be true or false".into() }),
        }
    }

    fn merchant_id(&self) -> Result<String, ConfigError> {
        let id = self.required("PGW_MERCHANT_ID")?;
        if id.len() > 15 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConfigError::Malformed {
                var: "PGW_MERCHANT_ID",
                reason: "must be 1 to 15 letters and digits".into(),
            });
        }
        Ok(id)
    }

    /// An optional secret of at least `min_len` characters (`None`: no length rule).
    fn optional_key(&self, var: &'static str, min_len: Option<usize>) -> Result<Option<Secret>, ConfigError> {
        let Some(value) = self.get(var) else { return Ok(None) };
        if let Some(min) = min_len
            && value.chars().count() < min
        {
            return Err(ConfigError::Malformed { var, reason: format!("must be at least {min} characters") });
        }
        Ok(Some(Secret::new(value)))
    }

    /// The key before a rotation: never the current key itself, never set without a current key.
    fn previous_key(
        &self,
        var: &'static str,
        current_var: &'static str,
        current: Option<&Secret>,
        min_len: Option<usize>,
    ) -> Result<Option<Secret>, ConfigError> {
        let Some(previous) = self.optional_key(var, min_len)? else { return Ok(None) };
        match current {
            None => Err(ConfigError::Malformed { var, reason: format!("is set but {current_var} is not") }),
            Some(current) if current.expose() == previous.expose() => {
                Err(ConfigError::PreviousSameAsCurrent { var, current: current_var })
            }
            Some(_) => Ok(Some(previous)),
        }
    }

    fn pgw_secret_key(&self) -> Result<Secret, ConfigError> {
        self.secret("PGW_SECRET_KEY")
    }

    fn pgw_secret_key_previous(&self, current: &Secret) -> Result<Option<Secret>, ConfigError> {
        self.previous_key("PGW_SECRET_KEY_PREVIOUS", "PGW_SECRET_KEY", Some(current), None)
    }

    fn session_secret(&self) -> Result<Secret, ConfigError> {
        self.optional_key("SESSION_SECRET", Some(MIN_SESSION_SECRET_LEN))?.ok_or(ConfigError::Missing("SESSION_SECRET"))
    }

    fn session_secret_previous(&self, current: &Secret) -> Result<Option<Secret>, ConfigError> {
        self.previous_key("SESSION_SECRET_PREVIOUS", "SESSION_SECRET", Some(current), Some(MIN_SESSION_SECRET_LEN))
    }

    /// The merchant's order keys: the current one is required unless the client may price orders.
    fn order_signing_keys(&self, client_pricing: bool) -> Result<(Option<Secret>, Option<Secret>), ConfigError> {
        let current = self.optional_key("ORDER_SIGNING_KEY", Some(MIN_ORDER_SIGNING_KEY_LEN))?;
        if current.is_none() && !client_pricing {
            return Err(ConfigError::Missing("ORDER_SIGNING_KEY"));
        }
        let previous = self.previous_key(
            "ORDER_SIGNING_KEY_PREVIOUS",
            "ORDER_SIGNING_KEY",
            current.as_ref(),
            Some(MIN_ORDER_SIGNING_KEY_LEN),
        )?;
        Ok((current, previous))
    }

    fn reconcile_batch(&self) -> Result<usize, ConfigError> {
        let var = "RECONCILE_BATCH";
        match self.get(var) {
            None => Ok(DEFAULT_RECONCILE_BATCH),
            Some(text) => match text.parse::<usize>() {
                Ok(value) if (1..=MAX_RECONCILE_BATCH).contains(&value) => Ok(value),
                _ => Err(ConfigError::Malformed {
                    var,
                    reason: format!("must be a whole number from 1 to {MAX_RECONCILE_BATCH}"),
                }),
            },
        }
    }

    fn app_id(&self) -> Result<String, ConfigError> {
        let id = self.required("WECHAT_APP_ID")?;
        if id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConfigError::Malformed {
                var: "WECHAT_APP_ID",
                reason: "must be letters and digits (wx…)".into(),
            });
        }
        Ok(id)
    }
}

async fn fetch_secret(arn: &str) -> Result<String, ConfigError> {
    let aws = crate::aws::sdk_config().await;
    let client = aws_sdk_secretsmanager::Client::new(&aws);
    let answer = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        ConfigError::SecretsUnavailable(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
    })?;
    answer.secret_string.ok_or_else(|| ConfigError::SecretsUnavailable("the secret has no string value".into()))
}

/// Loads a function's configuration at start, or stops the process with one line naming the variable.
pub async fn load_or_exit<T>(from_settings: fn(&Settings) -> Result<T, ConfigError>) -> T {
    match Settings::load().await.and_then(|settings| from_settings(&settings)) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("{error}");
            std::process::exit(1);
        }
    }
}

/// What `openid` needs.
#[derive(Debug, Clone)]
pub struct OpenidConfig {
    /// Mini program appID sent to jscode2session; letters and digits only.
    pub wechat_app_id: String,
    /// Mini program appSecret; travels only in the jscode2session query, never in logs or errors.
    pub wechat_app_secret: Secret,
    /// WeChat API base, overridable so tests and the sandbox can use a simulated WeChat.
    pub wechat_api_url: String,
    /// Key that signs the session tokens `prepay` will later check.
    pub session_secret: Secret,
    /// Lifetime of an issued session token, 1 second to 1 year.
    pub session_ttl_seconds: i64,
}

impl OpenidConfig {
    /// Reads and checks what `openid` needs, so a bad setting stops it at start rather than mid-request.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            wechat_app_id: s.app_id()?,
            wechat_app_secret: s.secret("WECHAT_APP_SECRET")?,
            wechat_api_url: s.url("WECHAT_API_URL", DEFAULT_WECHAT_API_URL)?,
            session_secret: s.session_secret()?,
            session_ttl_seconds: s.seconds("SESSION_TTL_SECONDS", DEFAULT_SESSION_TTL_SECONDS)?,
        })
    }
}

/// What `prepay` needs (it also serves `GET /orders`, whose inquiries may be answered under the
/// previous 2C2P key).
#[derive(Debug, Clone)]
pub struct PrepayConfig {
    /// DynamoDB table holding orders, attempts and the audit trail.
    pub table_name: String,
    /// Our 2C2P merchant ID (1 to 15 letters and digits), put in every SecurePay request.
    pub merchant_id: String,
    /// Current 2C2P key: signs every request and verifies answers.
    pub pgw_secret_key: Secret,
    /// The 2C2P key before a rotation, so inquiry answers signed with it still verify.
    pub pgw_secret_key_previous: Option<Secret>,
    /// SecurePay endpoint that creates the WeChat order.
    pub pgw_payment_url: String,
    /// Payment Action endpoint, for the inquiries of `GET /orders` and of expired attempts.
    pub pgw_action_url: String,
    /// Mini program appID, passed to 2C2P so it creates the order for the right mini program.
    pub wechat_app_id: String,
    /// Current session key, checking bearer tokens minted by `openid`.
    pub session_secret: Secret,
    /// Session key before a rotation, so tokens issued under it stay valid until they expire.
    pub session_secret_previous: Option<Secret>,
    /// `None` only when `client_pricing` is on and no key is configured: then no token can be checked.
    pub order_signing_key: Option<Secret>,
    /// The merchant's order key before a rotation, still accepted so tokens in flight keep working.
    pub order_signing_key_previous: Option<Secret>,
    /// When true the mini program may set the order itself; for tests, tips and the sandbox, never the default.
    pub client_pricing: bool,
    /// How long an attempt's payment parameters stay valid before a retry needs a new attempt.
    pub payment_ttl_seconds: i64,
    /// Delay after parameters are issued before reconciliation first inquires the attempt.
    pub reconcile_after_seconds: i64,
}

impl PrepayConfig {
    /// Reads and checks what `prepay` needs, so a bad setting stops it at start rather than mid-request.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let pgw_secret_key = s.pgw_secret_key()?;
        let session_secret = s.session_secret()?;
        let client_pricing = s.flag("CLIENT_PRICING")?;
        let (order_signing_key, order_signing_key_previous) = s.order_signing_keys(client_pricing)?;
        Ok(Self {
            table_name: s.required("TABLE_NAME")?,
            merchant_id: s.merchant_id()?,
            pgw_secret_key_previous: s.pgw_secret_key_previous(&pgw_secret_key)?,
            pgw_secret_key,
            pgw_payment_url: s.url("PGW_PAYMENT_URL", DEFAULT_PGW_PAYMENT_URL)?,
            pgw_action_url: s.url("PGW_ACTION_URL", DEFAULT_PGW_ACTION_URL)?,
            wechat_app_id: s.app_id()?,
            session_secret_previous: s.session_secret_previous(&session_secret)?,
            session_secret,
            order_signing_key,
            order_signing_key_previous,
            client_pricing,
            payment_ttl_seconds: s.seconds("PAYMENT_TTL_SECONDS", DEFAULT_PAYMENT_TTL_SECONDS)?,
            reconcile_after_seconds: s.seconds("RECONCILE_AFTER_SECONDS", DEFAULT_RECONCILE_AFTER_SECONDS)?,
        })
    }
}

/// What `notify` needs.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// DynamoDB table where notifications are kept and orders moved.
    pub table_name: String,
    /// Our 2C2P merchant ID; a notification for any other merchant is refused with 400.
    pub merchant_id: String,
    /// Current 2C2P key, checking each notification's signature before anything is read or written.
    pub pgw_secret_key: Secret,
    /// Notifications signed before a 2C2P key rotation still verify with it.
    pub pgw_secret_key_previous: Option<Secret>,
}

impl NotifyConfig {
    /// Reads and checks what `notify` needs, so a bad setting stops it at start rather than mid-request.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let pgw_secret_key = s.pgw_secret_key()?;
        Ok(Self {
            table_name: s.required("TABLE_NAME")?,
            merchant_id: s.merchant_id()?,
            pgw_secret_key_previous: s.pgw_secret_key_previous(&pgw_secret_key)?,
            pgw_secret_key,
        })
    }
}

/// What `reconcile` needs.
#[derive(Debug, Clone)]
pub struct ReconcileConfig {
    /// DynamoDB table whose reconciliation index lists the due attempts.
    pub table_name: String,
    /// Our 2C2P merchant ID, named in every inquiry.
    pub merchant_id: String,
    /// Current 2C2P key: signs inquiries and verifies their answers' `hashValue`.
    pub pgw_secret_key: Secret,
    /// Inquiry answers signed before a 2C2P key rotation still verify with it.
    pub pgw_secret_key_previous: Option<Secret>,
    /// Payment Action endpoint the inquiries are posted to.
    pub pgw_action_url: String,
    /// Delay after parameters are issued before an attempt is first inquired.
    pub reconcile_after_seconds: i64,
    /// Most attempts one run takes on, so it finishes within its deadline; the rest wait for the next run.
    pub reconcile_batch: usize,
}

impl ReconcileConfig {
    /// Reads and checks what `reconcile` needs, so a bad setting stops it at start rather than mid-request.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let pgw_secret_key = s.pgw_secret_key()?;
        Ok(Self {
            table_name: s.required("TABLE_NAME")?,
            merchant_id: s.merchant_id()?,
            pgw_secret_key_previous: s.pgw_secret_key_previous(&pgw_secret_key)?,
            pgw_secret_key,
            pgw_action_url: s.url("PGW_ACTION_URL", DEFAULT_PGW_ACTION_URL)?,
            reconcile_after_seconds: s.seconds("RECONCILE_AFTER_SECONDS", DEFAULT_RECONCILE_AFTER_SECONDS)?,
            reconcile_batch: s.reconcile_batch()?,
        })
    }
}

/// What `events` needs.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// EventBridge bus the fulfilment events are published to.
    pub event_bus_name: String,
    /// The events' `Source`, which merchants' rules match on; checked against EventBridge's limits at start.
    pub event_source: String,
}

impl EventsConfig {
    /// Reads and checks what `events` needs, so a bad `EVENT_SOURCE` fails at start, not on every record.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let event_source = s.get("EVENT_SOURCE").unwrap_or_else(|| DEFAULT_EVENT_SOURCE.to_owned());
        // EventBridge refuses these in PutEvents; better to fail at start than on every record.
        if event_source.len() > 256 || event_source.starts_with("aws.") {
            return Err(ConfigError::Malformed {
                var: "EVENT_SOURCE",
                reason: "must be at most 256 characters and not start with \"aws.\"".into(),
            });
        }
        Ok(Self { event_bus_name: s.required("EVENT_BUS_NAME")?, event_source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = "0123456789abcdef0123456789abcdef";
    const SESSION_OLD: &str = "old-session-secret-0123456789abcdef";
    const ORDER_KEY: &str = "order-signing-key-0123456789abcdef";
    const ORDER_KEY_OLD: &str = "old-order-signing-key-0123456789ab";
    /// 31 characters: one short of the floor.
    const SHORT_KEY: &str = "0123456789abcdef0123456789abcde";

    fn full() -> Vec<(&'static str, &'static str)> {
        vec![
            ("TABLE_NAME", "orders"),
            ("PGW_MERCHANT_ID", "M0001"),
            ("PGW_SECRET_KEY", "pgw-key"),
            ("WECHAT_APP_ID", "wx1234567890abcdef"),
            ("WECHAT_APP_SECRET", "app-secret"),
            ("SESSION_SECRET", SESSION),
            ("ORDER_SIGNING_KEY", ORDER_KEY),
            ("EVENT_BUS_NAME", "payments-bus"),
        ]
    }

    fn without(var: &str) -> Settings {
        Settings::from_pairs(full().into_iter().filter(|(k, _)| *k != var))
    }

    fn with(var: &'static str, value: &'static str) -> Settings {
        with_all(&[(var, value)])
    }

    fn with_all(changes: &[(&'static str, &'static str)]) -> Settings {
        let mut pairs = full();
        pairs.retain(|(k, _)| !changes.iter().any(|(var, _)| var == k));
        pairs.extend_from_slice(changes);
        Settings::from_pairs(pairs)
    }

    fn malformed<T: std::fmt::Debug>(result: Result<T, ConfigError>) -> &'static str {
        match result {
            Err(ConfigError::Malformed { var, .. }) => var,
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply_and_every_function_loads() {
        let s = Settings::from_pairs(full());
        let prepay = PrepayConfig::from_settings(&s).expect("loads");
        assert_eq!(prepay.pgw_payment_url, DEFAULT_PGW_PAYMENT_URL);
        assert_eq!(prepay.pgw_action_url, DEFAULT_PGW_ACTION_URL);
        assert_eq!(prepay.payment_ttl_seconds, 900);
        assert_eq!(prepay.reconcile_after_seconds, 120);
        assert!(!prepay.client_pricing, "the merchant prices orders unless told otherwise");
        assert_eq!(prepay.order_signing_key.as_ref().map(Secret::expose), Some(ORDER_KEY));
        assert!(prepay.order_signing_key_previous.is_none());
        assert!(prepay.session_secret_previous.is_none() && prepay.pgw_secret_key_previous.is_none());
        let openid = OpenidConfig::from_settings(&s).expect("loads");
        assert_eq!(openid.wechat_api_url, DEFAULT_WECHAT_API_URL);
        assert_eq!(openid.session_ttl_seconds, 7200);
        let notify = NotifyConfig::from_settings(&s).expect("loads");
        assert_eq!(notify.merchant_id, "M0001");
        assert!(notify.pgw_secret_key_previous.is_none());
        let reconcile = ReconcileConfig::from_settings(&s).expect("loads");
        assert_eq!(reconcile.reconcile_after_seconds, 120);
        assert_eq!(reconcile.reconcile_batch, 100);
        assert_eq!(reconcile.pgw_action_url, DEFAULT_PGW_ACTION_URL);
        let events = EventsConfig::from_settings(&s).expect("loads");
        assert_eq!((events.event_bus_name.as_str(), events.event_source.as_str()), ("payments-bus", "wcmini.payments"));
    }

    #[test]
    fn set_values_are_read() {
        let s = with_all(&[
            ("PGW_SECRET_KEY_PREVIOUS", "old-pgw"),
            ("SESSION_SECRET_PREVIOUS", SESSION_OLD),
            ("ORDER_SIGNING_KEY_PREVIOUS", ORDER_KEY_OLD),
            ("RECONCILE_AFTER_SECONDS", "60"),
            ("RECONCILE_BATCH", "1000"),
            ("EVENT_SOURCE", "shop.payments"),
            ("CLIENT_PRICING", "true"),
        ]);
        let prepay = PrepayConfig::from_settings(&s).expect("loads");
        assert_eq!(prepay.pgw_secret_key_previous.as_ref().map(Secret::expose), Some("old-pgw"));
        assert_eq!(prepay.session_secret_previous.as_ref().map(Secret::expose), Some(SESSION_OLD));
        assert_eq!(prepay.order_signing_key_previous.as_ref().map(Secret::expose), Some(ORDER_KEY_OLD));
        assert!(prepay.client_pricing);
        assert_eq!(prepay.reconcile_after_seconds, 60);
        let notify = NotifyConfig::from_settings(&s).expect("loads");
        assert_eq!(notify.pgw_secret_key_previous.as_ref().map(Secret::expose), Some("old-pgw"));
        let reconcile = ReconcileConfig::from_settings(&s).expect("loads");
        assert_eq!(reconcile.pgw_secret_key_previous.as_ref().map(Secret::expose), Some("old-pgw"));
        assert_eq!((reconcile.reconcile_after_seconds, reconcile.reconcile_batch), (60, 1000));
        assert_eq!(EventsConfig::from_settings(&s).expect("loads").event_source, "shop.payments");
        assert!(!PrepayConfig::from_settings(&with("CLIENT_PRICING", "false")).expect("loads").client_pricing);
    }

    #[test]
    fn each_function_names_its_missing_variable() {
        assert_eq!(PrepayConfig::from_settings(&without("TABLE_NAME")).err(), Some(ConfigError::Missing("TABLE_NAME")));
        assert_eq!(
            NotifyConfig::from_settings(&without("PGW_SECRET_KEY")).err(),
            Some(ConfigError::Missing("PGW_SECRET_KEY"))
        );
        assert_eq!(
            OpenidConfig::from_settings(&without("WECHAT_APP_SECRET")).err(),
            Some(ConfigError::Missing("WECHAT_APP_SECRET"))
        );
        assert_eq!(
            ReconcileConfig::from_settings(&without("PGW_MERCHANT_ID")).err(),
            Some(ConfigError::Missing("PGW_MERCHANT_ID"))
        );
        assert_eq!(
            EventsConfig::from_settings(&without("EVENT_BUS_NAME")).err(),
            Some(ConfigError::Missing("EVENT_BUS_NAME"))
        );
        assert!(OpenidConfig::from_settings(&without("TABLE_NAME")).is_ok(), "openid needs no table");
        assert!(EventsConfig::from_settings(&without("TABLE_NAME")).is_ok(), "events needs no table");
        assert_eq!(ConfigError::Missing("TABLE_NAME").to_string(), "configuration: TABLE_NAME is required but not set");
        assert_eq!(
            OpenidConfig::from_settings(&with("WECHAT_APP_SECRET", "  ")).err(),
            Some(ConfigError::Missing("WECHAT_APP_SECRET")),
            "blank is unset"
        );
    }

    #[test]
    fn the_order_key_is_required_unless_the_client_prices() {
        assert_eq!(
            PrepayConfig::from_settings(&without("ORDER_SIGNING_KEY")).err(),
            Some(ConfigError::Missing("ORDER_SIGNING_KEY"))
        );
        assert_eq!(
            PrepayConfig::from_settings(&with_all(&[("ORDER_SIGNING_KEY", ""), ("CLIENT_PRICING", "false")])).err(),
            Some(ConfigError::Missing("ORDER_SIGNING_KEY"))
        );
        let open = with_all(&[("ORDER_SIGNING_KEY", ""), ("CLIENT_PRICING", "true")]);
        let prepay = PrepayConfig::from_settings(&open).expect("client pricing needs no key");
        assert!(prepay.client_pricing && prepay.order_signing_key.is_none());
        assert!(OpenidConfig::from_settings(&without("ORDER_SIGNING_KEY")).is_ok(), "only prepay needs it");
        // A previous key with no current one to rotate from is a mistake, even with client pricing.
        let orphan = with_all(&[
            ("ORDER_SIGNING_KEY", ""),
            ("CLIENT_PRICING", "true"),
            ("ORDER_SIGNING_KEY_PREVIOUS", ORDER_KEY_OLD),
        ]);
        assert_eq!(malformed(PrepayConfig::from_settings(&orphan)), "ORDER_SIGNING_KEY_PREVIOUS");
    }

    #[test]
    fn client_pricing_is_true_or_false_only() {
        for bad in ["yes", "1", "TRUE", "on", "true!"] {
            let mut pairs = full();
            pairs.push(("CLIENT_PRICING", bad));
            assert_eq!(malformed(PrepayConfig::from_settings(&Settings::from_pairs(pairs))), "CLIENT_PRICING", "{bad}");
        }
    }

    #[test]
    fn order_and_session_keys_need_32_characters_and_2c2p_keys_do_not() {
        let thirty_two = "0123456789abcdef0123456789abcdeX";
        assert_eq!(thirty_two.chars().count(), 32);
        assert_eq!(SHORT_KEY.chars().count(), 31);
        for var in ["SESSION_SECRET", "SESSION_SECRET_PREVIOUS", "ORDER_SIGNING_KEY", "ORDER_SIGNING_KEY_PREVIOUS"] {
            assert_eq!(malformed(PrepayConfig::from_settings(&with(var, SHORT_KEY))), var);
            assert!(PrepayConfig::from_settings(&with(var, thirty_two)).is_ok(), "{var} at 32 characters");
        }
        // Even when the client prices orders, a key that is set must be a real key.
        let open = with_all(&[("CLIENT_PRICING", "true"), ("ORDER_SIGNING_KEY", SHORT_KEY)]);
        assert_eq!(malformed(PrepayConfig::from_settings(&open)), "ORDER_SIGNING_KEY");
        assert_eq!(malformed(OpenidConfig::from_settings(&with("SESSION_SECRET", "short"))), "SESSION_SECRET");
        let pgw = with_all(&[("PGW_SECRET_KEY", "k"), ("PGW_SECRET_KEY_PREVIOUS", "j")]);
        assert!(PrepayConfig::from_settings(&pgw).is_ok() && ReconcileConfig::from_settings(&pgw).is_ok());
        assert!(NotifyConfig::from_settings(&pgw).is_ok(), "2C2P issues short keys");
        let message =
            PrepayConfig::from_settings(&with("ORDER_SIGNING_KEY", SHORT_KEY)).expect_err("short").to_string();
        assert!(message.contains("ORDER_SIGNING_KEY") && message.contains("32"), "{message}");
        assert!(!message.contains(SHORT_KEY), "{message}");
    }

    #[test]
    fn a_previous_key_equal_to_the_current_one_is_refused_without_printing_it() {
        let cases = [
            ("PGW_SECRET_KEY_PREVIOUS", "pgw-key", "PGW_SECRET_KEY"),
            ("SESSION_SECRET_PREVIOUS", SESSION, "SESSION_SECRET"),
            ("ORDER_SIGNING_KEY_PREVIOUS", ORDER_KEY, "ORDER_SIGNING_KEY"),
        ];
        for (var, value, current) in cases {
            let error = PrepayConfig::from_settings(&with(var, value)).expect_err(var);
            assert_eq!(error, ConfigError::PreviousSameAsCurrent { var, current });
            let message = error.to_string();
            assert!(message.contains(var) && message.contains("same as"), "{message}");
            assert!(!message.contains(value), "{message}");
        }
        let same_pgw = with("PGW_SECRET_KEY_PREVIOUS", "pgw-key");
        assert!(matches!(NotifyConfig::from_settings(&same_pgw), Err(ConfigError::PreviousSameAsCurrent { .. })));
        assert!(matches!(ReconcileConfig::from_settings(&same_pgw), Err(ConfigError::PreviousSameAsCurrent { .. })));
        // Surrounding blanks are trimmed, so they do not make two copies of one key "different".
        let padded = with("SESSION_SECRET_PREVIOUS", " 0123456789abcdef0123456789abcdef ");
        assert!(matches!(PrepayConfig::from_settings(&padded), Err(ConfigError::PreviousSameAsCurrent { .. })));
    }

    #[test]
    fn malformed_values_are_named() {
        let prepay = |s: Settings| PrepayConfig::from_settings(&s);
        assert_eq!(malformed(prepay(with("PAYMENT_TTL_SECONDS", "15m"))), "PAYMENT_TTL_SECONDS");
        assert_eq!(malformed(prepay(with("PAYMENT_TTL_SECONDS", "0"))), "PAYMENT_TTL_SECONDS");
        assert_eq!(malformed(prepay(with("RECONCILE_AFTER_SECONDS", "-5"))), "RECONCILE_AFTER_SECONDS");
        assert_eq!(malformed(prepay(with("PGW_PAYMENT_URL", "not a url"))), "PGW_PAYMENT_URL");
        assert_eq!(malformed(prepay(with("PGW_ACTION_URL", "ftp://x/y"))), "PGW_ACTION_URL");
        assert_eq!(malformed(prepay(with("PGW_MERCHANT_ID", "M-0001"))), "PGW_MERCHANT_ID");
        assert_eq!(malformed(prepay(with("SESSION_SECRET", "short"))), "SESSION_SECRET");
        assert_eq!(malformed(prepay(with("WECHAT_APP_ID", "wx 1"))), "WECHAT_APP_ID");
        let reconcile = |s: Settings| ReconcileConfig::from_settings(&s);
        for bad in ["0", "1001", "-1", "ten", "1.5"] {
            assert_eq!(malformed(reconcile(with("RECONCILE_BATCH", bad))), "RECONCILE_BATCH", "{bad}");
        }
        assert_eq!(reconcile(with("RECONCILE_BATCH", "1")).expect("loads").reconcile_batch, 1);
        assert_eq!(malformed(reconcile(with("RECONCILE_AFTER_SECONDS", "2m"))), "RECONCILE_AFTER_SECONDS");
        assert_eq!(malformed(reconcile(with("PGW_ACTION_URL", "nope"))), "PGW_ACTION_URL");
        assert_eq!(malformed(EventsConfig::from_settings(&with("EVENT_SOURCE", "aws.payments"))), "EVENT_SOURCE");
    }

    #[test]
    fn secrets_json_fills_only_unset_secrets() {
        let mut s = without("PGW_SECRET_KEY");
        s.merge_secret_json(
            r#"{"PGW_SECRET_KEY":"from-secret","SESSION_SECRET":"ignored-because-set-already-xxxxxx","OTHER":"x"}"#,
        )
        .expect("json");
        let prepay = PrepayConfig::from_settings(&s).expect("loads");
        assert_eq!(prepay.pgw_secret_key.expose(), "from-secret");
        assert_eq!(prepay.session_secret.expose(), SESSION);
        assert_eq!(s.get("OTHER"), None, "only the named secrets are taken");
        assert!(matches!(s.merge_secret_json("[1]"), Err(ConfigError::Malformed { var: "SECRETS_ARN", .. })));
    }

    #[test]
    fn secrets_json_carries_the_rotation_keys_too() {
        let mut s =
            Settings::from_pairs(full().into_iter().filter(|(k, _)| !k.contains("SECRET") && !k.contains("KEY")));
        let json = serde_json::json!({
            "PGW_SECRET_KEY": "pgw-new", "PGW_SECRET_KEY_PREVIOUS": "pgw-old",
            "WECHAT_APP_SECRET": "app", "SESSION_SECRET": SESSION, "SESSION_SECRET_PREVIOUS": SESSION_OLD,
            "ORDER_SIGNING_KEY": ORDER_KEY, "ORDER_SIGNING_KEY_PREVIOUS": ORDER_KEY_OLD,
        });
        s.merge_secret_json(&json.to_string()).expect("json");
        let prepay = PrepayConfig::from_settings(&s).expect("loads");
        assert_eq!(prepay.pgw_secret_key_previous.as_ref().map(Secret::expose), Some("pgw-old"));
        assert_eq!(prepay.session_secret_previous.as_ref().map(Secret::expose), Some(SESSION_OLD));
        assert_eq!(prepay.order_signing_key.as_ref().map(Secret::expose), Some(ORDER_KEY));
        assert_eq!(prepay.order_signing_key_previous.as_ref().map(Secret::expose), Some(ORDER_KEY_OLD));
        assert_eq!(OpenidConfig::from_settings(&s).expect("loads").wechat_app_secret.expose(), "app");
        // A variable that is set wins over the secret, rotation keys included.
        let mut set = with("ORDER_SIGNING_KEY_PREVIOUS", ORDER_KEY_OLD);
        set.merge_secret_json(r#"{"ORDER_SIGNING_KEY_PREVIOUS":"from-the-secret-0123456789abcdef"}"#).expect("json");
        assert_eq!(set.get("ORDER_SIGNING_KEY_PREVIOUS").as_deref(), Some(ORDER_KEY_OLD));
        // A secret that is not a string is a mistake worth naming, without its value.
        let error =
            without("ORDER_SIGNING_KEY").merge_secret_json(r#"{"ORDER_SIGNING_KEY": 12345}"#).expect_err("number");
        assert!(
            matches!(&error, ConfigError::Malformed { var: "SECRETS_ARN", reason } if reason.contains("ORDER_SIGNING_KEY"))
        );
        assert!(!error.to_string().contains("12345"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = with_all(&[
            ("PGW_SECRET_KEY_PREVIOUS", "old-pgw-key"),
            ("SESSION_SECRET_PREVIOUS", SESSION_OLD),
            ("ORDER_SIGNING_KEY_PREVIOUS", ORDER_KEY_OLD),
        ]);
        let printed = [
            format!("{:?}", PrepayConfig::from_settings(&s).expect("loads")),
            format!("{:?}", NotifyConfig::from_settings(&s).expect("loads")),
            format!("{:?}", ReconcileConfig::from_settings(&s).expect("loads")),
            format!("{:?}", OpenidConfig::from_settings(&s).expect("loads")),
        ]
        .join("\n");
        for secret in ["pgw-key", "old-pgw-key", SESSION, SESSION_OLD, ORDER_KEY, ORDER_KEY_OLD, "app-secret"] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
        assert!(printed.contains("order_signing_key_previous: Some(Secret(<redacted>))"), "{printed}");
    }
}
