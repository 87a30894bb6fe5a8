//! Merchant-signed order tokens (see contract.md "POST /prepay").
//!
//! The price comes from the merchant's backend, never from the mini program: the backend signs the
//! order as an HS256 JWT with `ORDER_SIGNING_KEY` and the mini program only carries it. The JWT library
//! checks the signature (in constant time); the claims are read here, as raw JSON, so that each
//! problem gets a message the merchant's developer can act on. The order rules (orderId charset,
//! amount format, ...) are applied by the caller to the strings returned here.
//!
//! Expiry is judged against our own clock with no leeway (the library's exp check, which reads the
//! system clock and allows leeway, is off): valid while now < exp.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{Map, Number, Value};
use thiserror::Error;

use crate::secret::Secret;

/// Why an order token was refused. Messages name the problem, never a key or the token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrderTokenError {
    #[error(
        "orderToken is not a JWT: expected header.claims.signature, each base64url, header and claims JSON objects"
    )]
    /// Not three base64url parts with JSON header and claims, so nothing in it can be read.
    Malformed,
    /// The header names an algorithm other than HS256; refused so no `none` or key-confusion trick works.
    #[error("orderToken is signed with {0}; only HS256 is accepted")]
    UnsupportedAlgorithm(String),
    /// The header carries a `kid`; we publish no key ids, so one means the token was meant elsewhere.
    #[error("orderToken's header has a kid; no key ids are published, so sign without one")]
    UnknownKid,
    /// RFC 7515 §4.1.11: an extension we do not understand must not be ignored.
    #[error("orderToken's header has crit; no JWS extensions are supported, so sign without one")]
    UnsupportedCritical,
    /// Signed with neither the current nor the previous order key: forged, or the wrong key.
    #[error("orderToken is not signed with the merchant's order key (ORDER_SIGNING_KEY)")]
    BadSignature,
    /// `exp` is now or past (no leeway); the merchant must mint a fresh token.
    #[error("orderToken has expired; have the merchant's backend sign a fresh one")]
    Expired,
    /// No `exp` claim; an order token that never expires would let an old price be paid forever.
    #[error("orderToken has no exp claim; add one (a NumericDate: seconds since 1970)")]
    MissingExp,
    /// `exp` is present but not a JSON number.
    #[error("orderToken's exp claim is not a number; use a NumericDate (seconds since 1970)")]
    ExpNotNumber,
    /// A required order claim is absent; the claim is named.
    #[error("orderToken has no {0} claim")]
    ClaimMissing(&'static str),
    /// An order claim is not a JSON string (amounts must be strings, so no float slips in); the claim is named.
    #[error("orderToken's {0} claim is not a JSON string")]
    ClaimNotString(&'static str),
    /// Signing failed; only the sandbox and tests mint tokens.
    #[error("the order token could not be signed")]
    Signing,
}

/// The order as the merchant signed it: raw claim strings, not yet checked against the order rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderClaims {
    /// The merchant's orderId, not yet checked against the orderId rule.
    pub order_id: String,
    /// Decimal string in major units, as signed; never read as a float.
    pub amount: String,
    /// ISO 4217 alphabetic code, not yet checked against the supported list.
    pub currency: String,
    /// The description as the merchant wrote it, kept as given.
    pub description: String,
    /// The openid allowed to pay; `None`: any logged-in user.
    pub sub: Option<String>,
}

/// Checks order tokens against the current order key and, during a rotation, the previous one.
#[derive(Clone)]
pub struct OrderTokens {
    current: DecodingKey,
    previous: Option<DecodingKey>,
    validation: Validation,
}

/// Keys stay out of logs: the key types of the JWT library would print their bytes.
impl std::fmt::Debug for OrderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderTokens").field("previous_key", &self.previous.is_some()).finish_non_exhaustive()
    }
}

impl OrderTokens {
    /// Checks tokens signed with `current` or, during a rotation, `previous`; HS256 only, no leeway.
    pub fn new(current: &Secret, previous: Option<&Secret>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        // "others ignored": an aud the merchant adds must not make the library refuse the token.
        validation.validate_aud = false;
        validation.leeway = 0;
        // exp is required, but checked below so that its absence gets its own message.
        validation.required_spec_claims = HashSet::new();
        Self {
            current: DecodingKey::from_secret(current.expose().as_bytes()),
            previous: previous.map(|key| DecodingKey::from_secret(key.expose().as_bytes())),
            validation,
        }
    }

    /// The order a token carries, if it is an HS256 JWT signed with one of our keys and now < exp.
    pub fn verify(&self, token: &str, now: i64) -> Result<OrderClaims, OrderTokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| refusal_of_unreadable_header(token))?;
        if header.alg != Algorithm::HS256 {
            return Err(OrderTokenError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
        }
        if header.kid.is_some() {
            return Err(OrderTokenError::UnknownKid);
        }
        if header.crit.is_some() {
            return Err(OrderTokenError::UnsupportedCritical);
        }
        let claims = self.decode(token)?;
        let exp = match claims.get("exp") {
            None => return Err(OrderTokenError::MissingExp),
            Some(Value::Number(exp)) => exp,
            Some(_) => return Err(OrderTokenError::ExpNotNumber),
        };
        if expired(exp, now) {
            return Err(OrderTokenError::Expired);
        }
        Ok(OrderClaims {
            order_id: required_string(&claims, "orderId")?,
            amount: required_string(&claims, "amount")?,
            currency: required_string(&claims, "currency")?,
            description: required_string(&claims, "description")?,
            sub: match claims.get("sub") {
                None => None,
                Some(Value::String(sub)) => Some(sub.clone()),
                Some(_) => return Err(OrderTokenError::ClaimNotString("sub")),
            },
        })
    }

    /// The verified claims object: current key first, the previous one only on a signature mismatch.
    fn decode(&self, token: &str) -> Result<Map<String, Value>, OrderTokenError> {
        let attempt = |key: &DecodingKey| jsonwebtoken::decode::<Map<String, Value>>(token, key, &self.validation);
        let decoded = match (attempt(&self.current), &self.previous) {
            (Err(error), Some(previous)) if matches!(error.kind(), ErrorKind::InvalidSignature) => attempt(previous),
            (result, _) => result,
        };
        decoded.map(|data| data.claims).map_err(|error| match error.kind() {
            ErrorKind::InvalidSignature => OrderTokenError::BadSignature,
            _ => OrderTokenError::Malformed,
        })
    }
}

/// Signs an order the way a merchant's backend does (the sandbox plays the merchant; tests).
pub fn sign_order_token(key: &Secret, claims: &OrderClaims, exp: i64) -> Result<String, OrderTokenError> {
    #[derive(Serialize)]
    struct Wire<'a> {
        #[serde(rename = "orderId")]
        order_id: &'a str,
        amount: &'a str,
        currency: &'a str,
        description: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        sub: Option<&'a str>,
        exp: i64,
    }
    let wire = Wire {
        order_id: &claims.order_id,
        amount: &claims.amount,
        currency: &claims.currency,
        description: &claims.description,
        sub: claims.sub.as_deref(),
        exp,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &wire, &EncodingKey::from_secret(key.expose().as_bytes()))
        .map_err(|_| OrderTokenError::Signing)
}

/// now >= exp, exactly: an integer exp compares as an integer; a fractional one (RFC 7519 allows
/// it) as the instant it names, so 100.5 is still valid at 100 and expired at 101.
fn expired(exp: &Number, now: i64) -> bool {
    if let Some(exp) = exp.as_i64() {
        now >= exp
    } else if exp.as_u64().is_some() {
        false // beyond i64: far in the future
    } else {
        exp.as_f64().is_none_or(|exp| now as f64 >= exp)
    }
}

fn required_string(claims: &Map<String, Value>, name: &'static str) -> Result<String, OrderTokenError> {
    match claims.get(name) {
        None => Err(OrderTokenError::ClaimMissing(name)),
        Some(Value::String(value)) => Ok(value.clone()),
        Some(_) => Err(OrderTokenError::ClaimNotString(name)),
    }
}

/// The library refused the header (it cannot even represent `alg: none`); refused it stays, this
/// only finds the message: an algorithm it does not know, named if it is a plain name, or garbage.
fn refusal_of_unreadable_header(token: &str) -> OrderTokenError {
    let alg = token
        .split('.')
        .next()
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .and_then(|header| header.get("alg").and_then(Value::as_str).map(str::to_owned));
    match alg {
        Some(alg) if alg == "HS256" => OrderTokenError::Malformed,
        // Echo the name only when it looks like one: the message goes back to the caller.
        Some(alg) if (1..=16).contains(&alg.len()) && alg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            OrderTokenError::UnsupportedAlgorithm(alg)
        }
        Some(_) => OrderTokenError::UnsupportedAlgorithm("an unsupported algorithm".into()),
        None => OrderTokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000;
    const KEY: &str = "test-order-signing-key-0123456789abcdef";
    const PREVIOUS: &str = "previous-order-signing-key-0123456789";
    const OLDER: &str = "older-order-signing-key-0123456789abc";
    const OPENID: &str = "oUser1";

    fn secret(key: &str) -> Secret {
        Secret::new(key)
    }

    fn tokens() -> OrderTokens {
        OrderTokens::new(&secret(KEY), None)
    }

    fn rotating() -> OrderTokens {
        OrderTokens::new(&secret(KEY), Some(&secret(PREVIOUS)))
    }

    fn order() -> OrderClaims {
        OrderClaims {
            order_id: "A-1001".into(),
            amount: "12.50".into(),
            currency: "SGD".into(),
            description: "Latte x2".into(),
            sub: Some(OPENID.into()),
        }
    }

    fn good_claims() -> Value {
        json!({"orderId": "A-1001", "amount": "12.50", "currency": "SGD", "description": "Latte x2",
               "sub": OPENID, "exp": NOW + 600, "iat": NOW, "jti": "n-1", "aud": "someone", "extra": [1, 2]})
    }

    /// Any claims (wrong types included), signed properly with `key` under `header`.
    fn signed(header: &Header, claims: &Value, key: &str) -> String {
        jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(key.as_bytes())).expect("signs")
    }

    fn hs256(claims: &Value) -> String {
        signed(&Header::new(Algorithm::HS256), claims, KEY)
    }

    fn without(claim: &str) -> Value {
        let mut claims = good_claims();
        claims.as_object_mut().expect("object").remove(claim);
        claims
    }

    fn with(claim: &str, value: Value) -> Value {
        let mut claims = good_claims();
        claims[claim] = value;
        claims
    }

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    #[test]
    fn a_good_token_gives_the_raw_claims() {
        assert_eq!(tokens().verify(&hs256(&good_claims()), NOW), Ok(order()));
        let anyone = tokens().verify(&hs256(&without("sub")), NOW).expect("sub is optional");
        assert_eq!(anyone.sub, None);
        // Raw strings: the order rules are the caller's, so odd values pass through untouched.
        let odd = with("amount", json!("12.505"));
        assert_eq!(tokens().verify(&hs256(&odd), NOW).expect("raw").amount, "12.505");
    }

    #[test]
    fn sign_order_token_round_trips_and_leaves_out_a_missing_sub() {
        let token = sign_order_token(&secret(KEY), &order(), NOW + 60).expect("signs");
        assert_eq!(tokens().verify(&token, NOW + 59), Ok(order()));
        assert_eq!(tokens().verify(&token, NOW + 60), Err(OrderTokenError::Expired));
        let anyone = OrderClaims { sub: None, ..order() };
        let token = sign_order_token(&secret(KEY), &anyone, NOW + 60).expect("signs");
        let payload = token.split('.').nth(1).expect("claims part");
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
        assert_eq!(
            claims,
            json!({"orderId": "A-1001", "amount": "12.50", "currency": "SGD",
                                  "description": "Latte x2", "exp": NOW + 60})
        );
    }

    #[test]
    fn one_changed_signature_character_is_refused() {
        let token = hs256(&good_claims());
        let (message, signature) = token.rsplit_once('.').expect("three parts");
        // A middle character: the last one carries padding bits a lenient decoder might ignore.
        let mut chars: Vec<char> = signature.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        let tampered = format!("{message}.{}", chars.into_iter().collect::<String>());
        assert_eq!(tokens().verify(&tampered, NOW), Err(OrderTokenError::BadSignature));
    }

    #[test]
    fn tampered_claims_are_refused() {
        let token = hs256(&good_claims());
        let parts: Vec<&str> = token.split('.').collect();
        let cheaper = b64(&with("amount", json!("0.01")).to_string());
        let forged = format!("{}.{cheaper}.{}", parts[0], parts[2]);
        assert_eq!(tokens().verify(&forged, NOW), Err(OrderTokenError::BadSignature));
    }

    #[test]
    fn another_key_is_refused_and_the_message_says_so_without_secrets() {
        let token = signed(&Header::new(Algorithm::HS256), &good_claims(), OLDER);
        let error = tokens().verify(&token, NOW).expect_err("other key");
        assert_eq!(error, OrderTokenError::BadSignature);
        let message = error.to_string();
        assert!(message.contains("not signed with the merchant's order key"), "{message}");
        assert!(!message.contains(KEY) && !message.contains(&token), "{message}");
    }

    #[test]
    fn alg_none_is_refused() {
        let unsigned = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&good_claims().to_string()));
        assert_eq!(tokens().verify(&unsigned, NOW), Err(OrderTokenError::UnsupportedAlgorithm("none".into())));
        // Also with the HS256 signature of the same claims pasted on.
        let genuine = hs256(&good_claims());
        let pasted = format!("{}{}", unsigned, genuine.rsplit_once('.').expect("parts").1);
        assert!(matches!(tokens().verify(&pasted, NOW), Err(OrderTokenError::UnsupportedAlgorithm(_))));
        let message = OrderTokenError::UnsupportedAlgorithm("none".into()).to_string();
        assert!(message.contains("none") && message.contains("only HS256"), "{message}");
    }

    #[test]
    fn hs512_with_the_right_key_is_refused() {
        let token = signed(&Header::new(Algorithm::HS512), &good_claims(), KEY);
        assert_eq!(tokens().verify(&token, NOW), Err(OrderTokenError::UnsupportedAlgorithm("HS512".into())));
    }

    #[test]
    fn rs256_is_refused_before_any_key_is_used() {
        let token = format!("{}.{}.{}", b64(r#"{"alg":"RS256"}"#), b64(&good_claims().to_string()), b64("sig"));
        assert_eq!(tokens().verify(&token, NOW), Err(OrderTokenError::UnsupportedAlgorithm("RS256".into())));
        let odd = format!("{}.{}.", b64(r#"{"alg":"<script>alert(1)</script>"}"#), b64("{}"));
        let error = tokens().verify(&odd, NOW).expect_err("odd alg");
        assert!(!error.to_string().contains("script"), "odd names are not echoed: {error}");
    }

    #[test]
    fn a_kid_header_is_refused() {
        let header = Header { kid: Some("k1".into()), ..Header::new(Algorithm::HS256) };
        let token = signed(&header, &good_claims(), KEY);
        assert_eq!(tokens().verify(&token, NOW), Err(OrderTokenError::UnknownKid));
        assert!(!OrderTokenError::UnknownKid.to_string().contains("k1"));
    }

    #[test]
    fn a_crit_header_is_refused() {
        let header = Header { crit: Some(vec!["b64".into()]), ..Header::new(Algorithm::HS256) };
        assert_eq!(
            tokens().verify(&signed(&header, &good_claims(), KEY), NOW),
            Err(OrderTokenError::UnsupportedCritical)
        );
    }

    #[test]
    fn expiry_has_no_leeway() {
        let at = |exp: i64| hs256(&with("exp", json!(exp)));
        assert_eq!(tokens().verify(&at(NOW), NOW), Err(OrderTokenError::Expired), "exactly now");
        assert_eq!(tokens().verify(&at(NOW - 1), NOW), Err(OrderTokenError::Expired), "one second ago");
        assert!(tokens().verify(&at(NOW + 1), NOW).is_ok(), "one second to go");
        let far = hs256(&with("exp", json!(u64::MAX)));
        assert!(tokens().verify(&far, NOW).is_ok(), "beyond i64 is far in the future");
    }

    #[test]
    fn a_fractional_exp_is_valid_until_that_fraction() {
        let half_past = hs256(&with("exp", json!(NOW as f64 + 0.5)));
        assert!(tokens().verify(&half_past, NOW).is_ok(), "NOW < NOW + 0.5");
        assert_eq!(tokens().verify(&half_past, NOW + 1), Err(OrderTokenError::Expired));
        let half_before = hs256(&with("exp", json!(NOW as f64 - 0.5)));
        assert_eq!(tokens().verify(&half_before, NOW), Err(OrderTokenError::Expired));
        assert!(tokens().verify(&half_before, NOW - 1).is_ok());
    }

    #[test]
    fn exp_is_required_and_a_number() {
        assert_eq!(tokens().verify(&hs256(&without("exp")), NOW), Err(OrderTokenError::MissingExp));
        // (An array or object exp trips the library's own claim parser first: Malformed.)
        for bad in [json!("1900000000"), json!(null), json!(true)] {
            assert_eq!(
                tokens().verify(&hs256(&with("exp", bad.clone())), NOW),
                Err(OrderTokenError::ExpNotNumber),
                "{bad}"
            );
        }
    }

    #[test]
    fn each_required_claim_must_be_present_and_a_string() {
        for claim in ["orderId", "amount", "currency", "description"] {
            assert_eq!(tokens().verify(&hs256(&without(claim)), NOW), Err(OrderTokenError::ClaimMissing(claim)));
            for bad in [json!(12.5), json!(null), json!({"v": "x"}), json!(["x"])] {
                let token = hs256(&with(claim, bad.clone()));
                assert_eq!(tokens().verify(&token, NOW), Err(OrderTokenError::ClaimNotString(claim)), "{claim}: {bad}");
            }
            let message = OrderTokenError::ClaimMissing(claim).to_string();
            assert!(message.contains(claim), "{message}");
        }
        assert_eq!(tokens().verify(&hs256(&with("sub", json!(42))), NOW), Err(OrderTokenError::ClaimNotString("sub")));
    }

    #[test]
    fn garbage_is_malformed() {
        let claims = b64(&good_claims().to_string());
        let good_header = b64(r#"{"alg":"HS256","typ":"JWT"}"#);
        for garbage in [
            String::new(),
            "abc".into(),
            "a.b.c".into(),
            "Bearer x.y.z".into(),
            format!("{good_header}.{claims}"),
            format!("{}.{claims}.sig", b64("not json")),
        ] {
            assert_eq!(tokens().verify(&garbage, NOW), Err(OrderTokenError::Malformed), "{garbage:?}");
        }
        // The signature is checked before the claims are read: unreadable claims under a wrong
        // signature are a bad signature, not a parse error.
        let unreadable = format!("{good_header}.not base64!.{}", b64("sig"));
        assert_eq!(tokens().verify(&unreadable, NOW), Err(OrderTokenError::BadSignature));
        // Signed, but the claims are not an object.
        let array = signed(&Header::new(Algorithm::HS256), &json!(["A-1001"]), KEY);
        assert_eq!(tokens().verify(&array, NOW), Err(OrderTokenError::Malformed));
    }

    #[test]
    fn the_previous_key_is_accepted_and_an_older_one_is_not() {
        let previous = signed(&Header::new(Algorithm::HS256), &good_claims(), PREVIOUS);
        assert_eq!(rotating().verify(&previous, NOW), Ok(order()));
        assert_eq!(tokens().verify(&previous, NOW), Err(OrderTokenError::BadSignature), "once rotation ends");
        let current = hs256(&good_claims());
        assert_eq!(rotating().verify(&current, NOW), Ok(order()));
        let older = signed(&Header::new(Algorithm::HS256), &good_claims(), OLDER);
        assert_eq!(rotating().verify(&older, NOW), Err(OrderTokenError::BadSignature));
        // The previous key does not rescue what is wrong for other reasons.
        let expired = signed(&Header::new(Algorithm::HS256), &with("exp", json!(NOW)), PREVIOUS);
        assert_eq!(rotating().verify(&expired, NOW), Err(OrderTokenError::Expired));
    }

    #[test]
    fn the_prepay_event_carries_a_valid_token_for_sandbox_alice() {
        // events/prepay.json is made by scripts/make_prepay_event.py with this module's test key.
        let event: Value = serde_json::from_str(include_str!("../../../events/prepay.json")).expect("event json");
        let body: Value = serde_json::from_str(event["body"].as_str().expect("body")).expect("body json");
        let token = body["orderToken"].as_str().expect("orderToken");
        let claims = tokens().verify(token, 4_102_444_799).expect("valid until 2100");
        assert_eq!(claims, OrderClaims { sub: Some(simulator::openid_for("alice")), ..order() });
        assert_eq!(tokens().verify(token, 4_102_444_800), Err(OrderTokenError::Expired));
    }

    #[test]
    fn no_message_carries_a_key_or_the_token() {
        let token = signed(&Header::new(Algorithm::HS256), &good_claims(), OLDER);
        let errors = [
            rotating().verify(&token, NOW).expect_err("older key"),
            tokens().verify(&hs256(&with("exp", json!(NOW))), NOW).expect_err("expired"),
            tokens().verify(&format!("{token}x.y"), NOW).expect_err("garbage"),
        ];
        for error in errors {
            let message = error.to_string();
            for secret in [KEY, PREVIOUS, OLDER, token.as_str()] {
                assert!(!message.contains(secret), "{message}");
            }
        }
        let printed = format!("{:?}", rotating());
        assert!(!printed.contains(KEY) && !printed.contains(PREVIOUS), "{printed}");
    }
}
