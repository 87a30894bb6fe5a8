//! Session tokens: a JWT (HS256) binding an openid to an expiry, issued by `openid`, checked by `prepay`.
//!
//! Expiry is checked here against our own clock with no leeway (the library's own exp check, which
//! reads the system clock and allows leeway, is turned off): valid while now < exp.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::order::UnixSeconds;
use crate::secret::Secret;

/// Who issues and who accepts our tokens.
const ISSUER: &str = "wechat-2c2p-payments";

/// Why a bearer token was refused; both answer 401 `unauthorized` with this message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// Malformed, wrong issuer, or signed with neither key; logging in again gets a good one.
    #[error("the bearer token is malformed or its signature does not match")]
    Invalid,
    /// Now is at or past its expiry (no leeway); the user must log in again.
    #[error("the bearer token has expired; log in again")]
    Expired,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    iat: i64,
    exp: i64,
}

/// Issues tokens with the current key; checks them against the current key and, during a rotation,
/// the previous one, so users logged in before the rotation stay logged in until their tokens expire.
#[derive(Clone)]
pub struct SessionTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    previous: Option<DecodingKey>,
    validation: Validation,
    ttl_seconds: i64,
}

/// Keys stay out of logs: the key types of the JWT library would print their bytes.
impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTokens")
            .field("previous_key", &self.previous.is_some())
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

/// A fresh token and how long it lives.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The signed session token the mini program sends as `Authorization: Bearer`.
    pub token: String,
    /// Seconds until the token expires, for the contract's `expiresIn`.
    pub expires_in: i64,
}

/// Written by hand: a live session token never reaches a log.
impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = protocol::envelope::NotShown(&self.token);
        f.debug_struct("IssuedToken").field("token", &token).field("expires_in", &self.expires_in).finish()
    }
}

impl SessionTokens {
    /// One key, no rotation under way.
    pub fn new(secret: &Secret, ttl_seconds: i64) -> Self {
        Self::with_previous(secret, None, ttl_seconds)
    }

    /// The current key (issues and checks) and, during a rotation, the previous one (checks only).
    pub fn with_previous(secret: &Secret, previous: Option<&Secret>, ttl_seconds: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[ISSUER]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            previous: previous.map(|key| DecodingKey::from_secret(key.expose().as_bytes())),
            validation,
            ttl_seconds,
        }
    }

    /// A token for `openid`, valid for the configured lifetime from `now`.
    pub fn issue(&self, openid: &str, now: UnixSeconds) -> Result<IssuedToken, TokenError> {
        let claims = Claims { iss: ISSUER.to_owned(), sub: openid.to_owned(), iat: now, exp: now + self.ttl_seconds };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)?;
        Ok(IssuedToken { token, expires_in: self.ttl_seconds })
    }

    /// The openid a token was issued for, if its signature holds (constant-time) under the current
    /// or the previous key, and now < exp.
    pub fn verify(&self, token: &str, now: UnixSeconds) -> Result<String, TokenError> {
        let data = match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => data,
            Err(error) => match (&self.previous, error.kind()) {
                // Only a signature mismatch is worth a second try: anything else fails the same way.
                (Some(previous), ErrorKind::InvalidSignature) => {
                    jsonwebtoken::decode::<Claims>(token, previous, &self.validation)
                        .map_err(|_| TokenError::Invalid)?
                }
                _ => return Err(TokenError::Invalid),
            },
        };
        if now >= data.claims.exp {
            return Err(TokenError::Expired);
        }
        if data.claims.sub.is_empty() {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn tokens() -> SessionTokens {
        SessionTokens::new(&Secret::new("0123456789abcdef0123456789abcdef"), 7200)
    }

    #[test]
    fn an_issued_token_never_shows_in_debug_output() {
        let issued = tokens().issue("oUser1", NOW).expect("issues");
        let shown = format!("{issued:?}");
        assert!(!shown.contains(&issued.token) && shown.contains("7200"), "{shown}");
    }

    #[test]
    fn a_token_carries_its_openid_until_exactly_its_expiry() {
        let issued = tokens().issue("oUser1", NOW).expect("issues");
        assert_eq!(issued.expires_in, 7200);
        assert_eq!(tokens().verify(&issued.token, NOW), Ok("oUser1".to_owned()));
        assert_eq!(tokens().verify(&issued.token, NOW + 7199), Ok("oUser1".to_owned()));
        assert_eq!(tokens().verify(&issued.token, NOW + 7200), Err(TokenError::Expired), "no leeway");
    }

    #[test]
    fn forged_tampered_and_garbage_tokens_are_refused() {
        let issued = tokens().issue("oUser1", NOW).expect("issues");
        let other = SessionTokens::new(&Secret::new("another-secret-of-32-characters!!"), 7200);
        assert_eq!(other.verify(&issued.token, NOW), Err(TokenError::Invalid));
        let mut parts: Vec<&str> = issued.token.split('.').collect();
        let forged_claims =
            base64_url(&format!(r#"{{"iss":"{ISSUER}","sub":"oAttacker","iat":{NOW},"exp":{}}}"#, NOW + 10));
        parts[1] = &forged_claims;
        assert_eq!(tokens().verify(&parts.join("."), NOW), Err(TokenError::Invalid));
        for garbage in ["", "abc", "a.b.c", "Bearer x"] {
            assert_eq!(tokens().verify(garbage, NOW), Err(TokenError::Invalid), "{garbage:?}");
        }
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        let header = base64_url(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = base64_url(&format!(r#"{{"iss":"{ISSUER}","sub":"oX","iat":{NOW},"exp":{}}}"#, NOW + 10));
        assert_eq!(tokens().verify(&format!("{header}.{claims}."), NOW), Err(TokenError::Invalid));
    }

    const CURRENT: &str = "0123456789abcdef0123456789abcdef";
    const PREVIOUS: &str = "previous-session-secret-0123456789";
    const OLDER: &str = "older-session-secret-0123456789abc";

    fn rotating() -> SessionTokens {
        SessionTokens::with_previous(&Secret::new(CURRENT), Some(&Secret::new(PREVIOUS)), 7200)
    }

    #[test]
    fn a_token_signed_with_the_previous_key_stays_valid_until_it_expires() {
        let before_rotation = SessionTokens::new(&Secret::new(PREVIOUS), 7200).issue("oUser1", NOW).expect("issues");
        assert_eq!(rotating().verify(&before_rotation.token, NOW + 7199), Ok("oUser1".to_owned()));
        assert_eq!(rotating().verify(&before_rotation.token, NOW + 7200), Err(TokenError::Expired), "no leeway");
        assert_eq!(tokens().verify(&before_rotation.token, NOW), Err(TokenError::Invalid), "once rotation ends");
    }

    #[test]
    fn during_a_rotation_tokens_are_issued_with_the_current_key() {
        let issued = rotating().issue("oUser2", NOW).expect("issues");
        assert_eq!(tokens().verify(&issued.token, NOW), Ok("oUser2".to_owned()));
        let previous_only = SessionTokens::new(&Secret::new(PREVIOUS), 7200);
        assert_eq!(previous_only.verify(&issued.token, NOW), Err(TokenError::Invalid));
        assert_eq!(rotating().verify(&issued.token, NOW + 7200), Err(TokenError::Expired));
    }

    #[test]
    fn during_a_rotation_an_unrelated_key_is_still_refused() {
        let older = SessionTokens::new(&Secret::new(OLDER), 7200).issue("oUser3", NOW).expect("issues");
        assert_eq!(rotating().verify(&older.token, NOW), Err(TokenError::Invalid));
        let header = base64_url(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = base64_url(&format!(r#"{{"iss":"{ISSUER}","sub":"oX","iat":{NOW},"exp":{}}}"#, NOW + 10));
        assert_eq!(rotating().verify(&format!("{header}.{claims}."), NOW), Err(TokenError::Invalid));
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let printed = format!("{:?}", rotating());
        assert!(!printed.contains(CURRENT) && !printed.contains(PREVIOUS), "{printed}");
        assert!(!printed.contains("48, 49, 50"), "no key bytes either: {printed}");
    }

    fn base64_url(text: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }
}
