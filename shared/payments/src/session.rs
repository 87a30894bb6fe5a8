//! Session tokens: a JWT (HS256) binding an openid to an expiry, issued by `openid`, checked by `prepay`.
//!
//! Expiry is checked here against our own clock with no leeway (the library's own exp check, which
//! reads the system clock and allows leeway, is turned off): valid while now < exp.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::order::UnixSeconds;
use crate::secret::Secret;

/// Who issues and who accepts our tokens.
const ISSUER: &str = "wechat-2c2p-payments";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    #[error("the bearer token is malformed or its signature does not match")]
    Invalid,
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

/// Issues and checks tokens with one key.
#[derive(Clone)]
pub struct SessionTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_seconds: i64,
}

/// A fresh token and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: i64,
}

impl SessionTokens {
    pub fn new(secret: &Secret, ttl_seconds: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.set_issuer(&[ISSUER]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
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

    /// The openid a token was issued for, if its signature holds (constant-time) and now < exp.
    pub fn verify(&self, token: &str, now: UnixSeconds) -> Result<String, TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| TokenError::Invalid)?;
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

    fn base64_url(text: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }
}
