//! Configuration from the environment (and `SECRETS_ARN`), checked once at start.
//!
//! A missing or malformed setting is an error naming the variable, so a function fails at start
//! with one clear line instead of on its first request.

use std::collections::HashMap;

use thiserror::Error;

use crate::secret::Secret;

pub const DEFAULT_PGW_PAYMENT_URL: &str = "https://demo2.2c2p.com/2C2PFrontEnd/SecurePayment/Payment.aspx";
pub const DEFAULT_PGW_ACTION_URL: &str = "https://demo2.2c2p.com/2C2PFrontend/PaymentActionV2/PaymentProcess.aspx";
pub const DEFAULT_WECHAT_API_URL: &str = "https://api.weixin.qq.com";
pub const DEFAULT_SESSION_TTL_SECONDS: i64 = 7200;
pub const DEFAULT_PAYMENT_TTL_SECONDS: i64 = 900;
/// The secrets `SECRETS_ARN` may carry, as keys of its JSON.
pub const SECRET_NAMES: [&str; 3] = ["PGW_SECRET_KEY", "WECHAT_APP_SECRET", "SESSION_SECRET"];
/// Below this a session key is guessable; 32 bytes is what HS256 wants.
pub const MIN_SESSION_SECRET_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("configuration: {0} is required but not set")]
    Missing(&'static str),
    #[error("configuration: {var} is malformed: {reason}")]
    Malformed { var: &'static str, reason: String },
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

    /// Fills the three secrets from the JSON of a Secrets Manager secret; a set variable wins.
    pub fn merge_secret_json(&mut self, json: &str) -> Result<(), ConfigError> {
        let map: HashMap<String, serde_json::Value> = serde_json::from_str(json).map_err(|_| {
            ConfigError::Malformed { var: "SECRETS_ARN", reason: "the secret is not a JSON object".into() }
        })?;
        for name in SECRET_NAMES {
            if self.get(name).is_some() {
                continue;
            }
            if let Some(value) = map.get(name).and_then(|v| v.as_str()) {
                self.vars.insert(name.to_owned(), value.to_owned());
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

    fn session_secret(&self) -> Result<Secret, ConfigError> {
        let secret = self.secret("SESSION_SECRET")?;
        if secret.expose().len() < MIN_SESSION_SECRET_LEN {
            return Err(ConfigError::Malformed {
                var: "SESSION_SECRET",
                reason: format!("must be at least {MIN_SESSION_SECRET_LEN} characters"),
            });
        }
        Ok(secret)
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
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
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
    pub wechat_app_id: String,
    pub wechat_app_secret: Secret,
    pub wechat_api_url: String,
    pub session_secret: Secret,
    pub session_ttl_seconds: i64,
}

impl OpenidConfig {
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

/// What `prepay` needs.
#[derive(Debug, Clone)]
pub struct PrepayConfig {
    pub table_name: String,
    pub merchant_id: String,
    pub pgw_secret_key: Secret,
    pub pgw_payment_url: String,
    pub pgw_action_url: String,
    pub wechat_app_id: String,
    pub session_secret: Secret,
    pub payment_ttl_seconds: i64,
}

impl PrepayConfig {
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: s.required("TABLE_NAME")?,
            merchant_id: s.merchant_id()?,
            pgw_secret_key: s.secret("PGW_SECRET_KEY")?,
            pgw_payment_url: s.url("PGW_PAYMENT_URL", DEFAULT_PGW_PAYMENT_URL)?,
            pgw_action_url: s.url("PGW_ACTION_URL", DEFAULT_PGW_ACTION_URL)?,
            wechat_app_id: s.app_id()?,
            session_secret: s.session_secret()?,
            payment_ttl_seconds: s.seconds("PAYMENT_TTL_SECONDS", DEFAULT_PAYMENT_TTL_SECONDS)?,
        })
    }
}

/// What `notify` needs.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub table_name: String,
    pub merchant_id: String,
    pub pgw_secret_key: Secret,
}

impl NotifyConfig {
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: s.required("TABLE_NAME")?,
            merchant_id: s.merchant_id()?,
            pgw_secret_key: s.secret("PGW_SECRET_KEY")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = "0123456789abcdef0123456789abcdef";

    fn full() -> Vec<(&'static str, &'static str)> {
        vec![
            ("TABLE_NAME", "orders"),
            ("PGW_MERCHANT_ID", "M0001"),
            ("PGW_SECRET_KEY", "pgw-key"),
            ("WECHAT_APP_ID", "wx1234567890abcdef"),
            ("WECHAT_APP_SECRET", "app-secret"),
            ("SESSION_SECRET", SESSION),
        ]
    }

    fn without(var: &str) -> Settings {
        Settings::from_pairs(full().into_iter().filter(|(k, _)| *k != var))
    }

    fn with(var: &'static str, value: &'static str) -> Settings {
        let mut pairs = full();
        pairs.retain(|(k, _)| *k != var);
        pairs.push((var, value));
        Settings::from_pairs(pairs)
    }

    #[test]
    fn defaults_apply_and_every_function_loads() {
        let s = Settings::from_pairs(full());
        let prepay = PrepayConfig::from_settings(&s).expect("loads");
        assert_eq!(prepay.pgw_payment_url, DEFAULT_PGW_PAYMENT_URL);
        assert_eq!(prepay.pgw_action_url, DEFAULT_PGW_ACTION_URL);
        assert_eq!(prepay.payment_ttl_seconds, 900);
        let openid = OpenidConfig::from_settings(&s).expect("loads");
        assert_eq!(openid.wechat_api_url, DEFAULT_WECHAT_API_URL);
        assert_eq!(openid.session_ttl_seconds, 7200);
        assert_eq!(NotifyConfig::from_settings(&s).expect("loads").merchant_id, "M0001");
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
        assert!(OpenidConfig::from_settings(&without("TABLE_NAME")).is_ok(), "openid needs no table");
        assert_eq!(ConfigError::Missing("TABLE_NAME").to_string(), "configuration: TABLE_NAME is required but not set");
        assert_eq!(
            OpenidConfig::from_settings(&with("WECHAT_APP_SECRET", "  ")).err(),
            Some(ConfigError::Missing("WECHAT_APP_SECRET")),
            "blank is unset"
        );
    }

    #[test]
    fn malformed_values_are_named() {
        let malformed = |result: Result<PrepayConfig, ConfigError>| match result {
            Err(ConfigError::Malformed { var, .. }) => var,
            other => panic!("expected malformed, got {other:?}"),
        };
        assert_eq!(malformed(PrepayConfig::from_settings(&with("PAYMENT_TTL_SECONDS", "15m"))), "PAYMENT_TTL_SECONDS");
        assert_eq!(malformed(PrepayConfig::from_settings(&with("PAYMENT_TTL_SECONDS", "0"))), "PAYMENT_TTL_SECONDS");
        assert_eq!(malformed(PrepayConfig::from_settings(&with("PGW_PAYMENT_URL", "not a url"))), "PGW_PAYMENT_URL");
        assert_eq!(malformed(PrepayConfig::from_settings(&with("PGW_ACTION_URL", "ftp://x/y"))), "PGW_ACTION_URL");
        assert_eq!(malformed(PrepayConfig::from_settings(&with("PGW_MERCHANT_ID", "M-0001"))), "PGW_MERCHANT_ID");
        assert_eq!(malformed(PrepayConfig::from_settings(&with("SESSION_SECRET", "short"))), "SESSION_SECRET");
        assert_eq!(malformed(PrepayConfig::from_settings(&with("WECHAT_APP_ID", "wx 1"))), "WECHAT_APP_ID");
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
        assert_eq!(s.get("OTHER"), None, "only the three secrets are taken");
        assert!(matches!(s.merge_secret_json("[1]"), Err(ConfigError::Malformed { var: "SECRETS_ARN", .. })));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let printed = format!("{:?}", PrepayConfig::from_settings(&Settings::from_pairs(full())).expect("loads"));
        assert!(!printed.contains("pgw-key") && !printed.contains(SESSION), "{printed}");
    }
}
