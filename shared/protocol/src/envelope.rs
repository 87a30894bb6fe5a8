//! 2C2P's signed envelope, shared by SecurePay requests, responses and notifications.
//!
//! ```text
//! payload   = base64(inner XML)
//! signature = UPPERCASE_HEX(HMAC-SHA256(secret key, payload's base64 text))
//! outer     = <Root><version>9.9</version><payload>…</payload><signature>…</signature></Root>
//! envelope  = base64(outer)
//! ```
//!
//! Opening checks the signature over the payload text *before* the payload is decoded, in
//! constant time, so nothing from an unauthenticated sender is ever parsed past the outer shell.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

/// The SecurePay API version this crate speaks.
pub const API_VERSION: &str = "9.9";

/// HMAC-SHA256 hex is 64 characters; 2C2P declares the field up to 128, so anything else is refused.
const SIGNATURE_HEX_LEN: usize = 64;

/// Why an envelope could not be opened. Each failure keeps its own kind.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    /// The body does not decode as base64, so it is not an envelope (or was mangled in transport).
    #[error("envelope is not base64")]
    NotBase64,
    /// The base64 decoded, but not into an outer XML document; carries the parser's complaint.
    #[error("envelope is not XML: {0}")]
    NotXml(String),
    /// The outer document lacks the named element (`payload` or `signature`), so nothing can be verified.
    #[error("envelope has no <{0}> element")]
    MissingElement(&'static str),
    /// No accepted key made the signature: forged, corrupted, or signed with a key we do not hold.
    #[error("envelope signature does not match")]
    BadSignature,
    /// Authentic, but for another API version than 9.9, whose payload this crate might misread.
    #[error("envelope version is {found:?}, expected {API_VERSION}")]
    WrongVersion {
        /// The version the envelope declared, trimmed (empty when the element was absent).
        found: String,
    },
    /// The signature matched, yet the signed payload text is not base64.
    #[error("signed payload is not base64")]
    PayloadNotBase64,
    /// The signed payload decodes to bytes that are not UTF-8, so it cannot be the XML we read.
    #[error("signed payload is not UTF-8 text")]
    PayloadNotText,
}

/// Why a form body did not yield its field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormError {
    /// The body is not UTF-8 `application/x-www-form-urlencoded` data, so no field can be read from it.
    #[error("body is not form data (application/x-www-form-urlencoded)")]
    NotForm,
    /// The form parsed, but lacks the named field (`paymentRequest`, `paymentResponse`): wrong sender or endpoint.
    #[error("form has no {0} field")]
    MissingField(&'static str),
}

#[derive(Serialize, Deserialize)]
struct Outer {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    signature: Option<String>,
}

/// Signs a payload's base64 text: uppercase hex of HMAC-SHA256 under `key`.
pub fn sign(payload_b64: &str, key: &[u8]) -> String {
    // HMAC accepts keys of every length, so the empty fallback is never reached (and would never verify).
    mac(key, payload_b64).map(|mac| hex::encode_upper(mac.finalize().into_bytes())).unwrap_or_default()
}

/// `None` only if the HMAC constructor refused the key, which it never does for HMAC.
fn mac(key: &[u8], payload_b64: &str) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(payload_b64.as_bytes());
    Some(mac)
}

/// Checks `signature_hex` (either case) against the payload text in constant time.
pub fn verify(payload_b64: &str, signature_hex: &str, key: &[u8]) -> bool {
    verify_with_keys(payload_b64, signature_hex, &[key])
}

/// Like [`verify`], true if any of `keys` made the signature: during a key rotation 2C2P may still sign
/// with the previous key. Each comparison is constant time; an empty list verifies nothing.
pub fn verify_with_keys(payload_b64: &str, signature_hex: &str, keys: &[&[u8]]) -> bool {
    if signature_hex.len() != SIGNATURE_HEX_LEN {
        return false;
    }
    let Ok(expected) = hex::decode(signature_hex) else {
        return false;
    };
    keys.iter().any(|key| mac(key, payload_b64).is_some_and(|mac| mac.verify_slice(&expected).is_ok()))
}

/// Seals an inner XML document: base64 payload, signature, outer XML under `root`, base64 of it all.
pub fn seal(root: &str, inner_xml: &str, key: &[u8]) -> String {
    let payload = BASE64.encode(inner_xml);
    let signature = sign(&payload, key);
    let outer = Outer { version: Some(API_VERSION.to_owned()), payload: Some(payload), signature: Some(signature) };
    // Serialising three plain strings into XML cannot fail; fall back to an empty document if it ever did.
    let outer_xml = quick_xml::se::to_string_with_root(root, &outer).unwrap_or_default();
    BASE64.encode(outer_xml)
}

/// The form body 2C2P expects for a SecurePay request: `paymentRequest=` + urlencoded envelope.
pub fn request_form_body(envelope_b64: &str) -> String {
    form_body("paymentRequest", envelope_b64)
}

/// A one-field `application/x-www-form-urlencoded` body.
pub fn form_body(field: &str, value: &str) -> String {
    serde_urlencoded::to_string([(field, value)]).unwrap_or_default()
}

/// Reads one field of a form body, mending a base64 value whose `+` a sender left unencoded.
///
/// Form decoding turns a bare `+` into a space; base64 never contains spaces, so turning them back is safe.
/// Spaces are mended *before* trimming: a leading or trailing `+` arrives as a space, and trimming first
/// would drop it (and with it a real notification). Only the whitespace left after that (a trailing
/// newline, a tab) is trimmed.
pub fn base64_form_field(body: &[u8], field: &'static str) -> Result<String, FormError> {
    // A form body is ASCII; the decoder would silently replace invalid UTF-8, so refuse it first.
    let text = std::str::from_utf8(body).map_err(|_| FormError::NotForm)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).map_err(|_| FormError::NotForm)?;
    pairs
        .into_iter()
        .find(|(name, _)| name == field)
        .map(|(_, value)| value.replace(' ', "+").trim().to_owned())
        .ok_or(FormError::MissingField(field))
}

/// What a `Debug` impl prints in place of signed text or a token: its length only, so a `{:?}` in a log
/// line or a test failure never shows the secret itself.
pub struct NotShown<'a>(pub &'a str);

impl std::fmt::Debug for NotShown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes, not shown>", self.0.len())
    }
}

/// An envelope whose signature has been checked. Its payload is still undecoded.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    version: String,
    payload_b64: String,
}

/// Written by hand: the signed payload never reaches a log.
impl std::fmt::Debug for VerifiedEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedEnvelope")
            .field("version", &self.version)
            .field("payload_b64", &NotShown(&self.payload_b64))
            .finish()
    }
}

impl VerifiedEnvelope {
    /// The `version` element as sent (empty when absent).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Refuses an envelope of another API version.
    pub fn require_version(&self) -> Result<(), EnvelopeError> {
        if self.version == API_VERSION {
            Ok(())
        } else {
            Err(EnvelopeError::WrongVersion { found: self.version.clone() })
        }
    }

    /// Decodes the signed payload into its inner XML text.
    pub fn decode_payload(&self) -> Result<String, EnvelopeError> {
        let bytes = BASE64.decode(&self.payload_b64).map_err(|_| EnvelopeError::PayloadNotBase64)?;
        String::from_utf8(bytes).map_err(|_| EnvelopeError::PayloadNotText)
    }
}

/// Opens an envelope: base64, outer XML, then the signature check. Nothing inside is decoded yet.
pub fn open(envelope_b64: &str, key: &[u8]) -> Result<VerifiedEnvelope, EnvelopeError> {
    open_with_keys(envelope_b64, &[key])
}

/// Like [`open`], accepting a signature made with any of `keys` (the current key and, during a
/// rotation, the previous one); [`EnvelopeError::BadSignature`] when none made it.
pub fn open_with_keys(envelope_b64: &str, keys: &[&[u8]]) -> Result<VerifiedEnvelope, EnvelopeError> {
    let outer_bytes = BASE64.decode(envelope_b64.trim()).map_err(|_| EnvelopeError::NotBase64)?;
    let outer_xml = std::str::from_utf8(&outer_bytes).map_err(|_| EnvelopeError::NotXml("not UTF-8".into()))?;
    let outer: Outer = quick_xml::de::from_str(outer_xml).map_err(|e| EnvelopeError::NotXml(e.to_string()))?;
    let payload_b64 = outer.payload.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
    let payload_b64 = payload_b64.ok_or(EnvelopeError::MissingElement("payload"))?;
    let signature = outer.signature.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let signature = signature.ok_or(EnvelopeError::MissingElement("signature"))?;
    if !verify_with_keys(&payload_b64, &signature, keys) {
        return Err(EnvelopeError::BadSignature);
    }
    let version = outer.version.map(|v| v.trim().to_owned()).unwrap_or_default();
    Ok(VerifiedEnvelope { version, payload_b64 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"S3cretKeyForTests";

    fn outer_b64(xml: &str) -> String {
        BASE64.encode(xml)
    }

    #[test]
    fn a_verified_envelope_never_shows_its_payload_in_debug_output() {
        let envelope = seal("PaymentResponse", "<PaymentResponse><amt>000000001250</amt></PaymentResponse>", KEY);
        let opened = open(&envelope, KEY).expect("opens");
        let shown = format!("{opened:?}");
        assert!(!shown.contains(&opened.payload_b64) && shown.contains("9.9"), "{shown}");
    }

    #[test]
    fn seal_then_open_gives_the_inner_document_back() {
        let inner = "<PaymentResponse><respCode>00</respCode></PaymentResponse>";
        let envelope = seal("PaymentResponse", inner, KEY);
        let opened = open(&envelope, KEY).expect("opens");
        assert_eq!(opened.version(), "9.9");
        assert_eq!(opened.require_version(), Ok(()));
        assert_eq!(opened.decode_payload().as_deref(), Ok(inner));
    }

    #[test]
    fn another_key_is_a_bad_signature() {
        let envelope = seal("PaymentResponse", "<a/>", KEY);
        assert_eq!(open(&envelope, b"another key"), Err(EnvelopeError::BadSignature));
    }

    #[test]
    fn any_key_of_a_rotation_opens_and_an_unrelated_one_does_not() {
        let (key_a, key_b): (&[u8], &[u8]) = (b"previous-key-A", b"current-key-B");
        let envelope = seal("PaymentResponse", "<PaymentResponse/>", key_b);
        for keys in [[key_a, key_b], [key_b, key_a]] {
            let opened = open_with_keys(&envelope, &keys).expect("B is in the list");
            assert_eq!(opened.decode_payload().as_deref(), Ok("<PaymentResponse/>"));
        }
        assert_eq!(open_with_keys(&envelope, &[key_a]), Err(EnvelopeError::BadSignature));
        assert_eq!(open_with_keys(&envelope, &[key_a, b"unrelated"]), Err(EnvelopeError::BadSignature));
        assert_eq!(open_with_keys(&envelope, &[]), Err(EnvelopeError::BadSignature), "no key verifies nothing");
        assert_eq!(open(&envelope, key_a), Err(EnvelopeError::BadSignature));
        assert!(open(&envelope, key_b).is_ok());
        // Structural failures keep their kind whatever the keys.
        assert_eq!(open_with_keys("not base64!", &[key_b]), Err(EnvelopeError::NotBase64));
    }

    #[test]
    fn lowercase_signature_is_accepted_and_other_lengths_refused() {
        let payload = BASE64.encode("<x/>");
        let signature = sign(&payload, KEY);
        assert!(signature.chars().all(|c| !c.is_ascii_lowercase()), "2C2P emits uppercase");
        assert!(verify(&payload, &signature.to_lowercase(), KEY));
        assert!(!verify(&payload, &signature[..62], KEY));
        assert!(!verify(&payload, &format!("{signature}00"), KEY));
        assert!(!verify(&payload, &"Z".repeat(64), KEY));
    }

    #[test]
    fn each_failure_has_its_own_kind() {
        assert_eq!(open("not base64!", KEY), Err(EnvelopeError::NotBase64));
        assert!(matches!(open(&outer_b64("<a><b></a>"), KEY), Err(EnvelopeError::NotXml(_))));
        assert!(matches!(open(&BASE64.encode([0xff, 0xfe]), KEY), Err(EnvelopeError::NotXml(_))));
        let no_payload =
            outer_b64("<PaymentResponse><version>9.9</version><signature>AB</signature></PaymentResponse>");
        assert_eq!(open(&no_payload, KEY), Err(EnvelopeError::MissingElement("payload")));
        let no_signature =
            outer_b64("<PaymentResponse><version>9.9</version><payload>PGEvPg==</payload></PaymentResponse>");
        assert_eq!(open(&no_signature, KEY), Err(EnvelopeError::MissingElement("signature")));
        let empty_signature = outer_b64(
            "<PaymentResponse><version>9.9</version><payload>PGEvPg==</payload><signature></signature></PaymentResponse>",
        );
        assert_eq!(open(&empty_signature, KEY), Err(EnvelopeError::MissingElement("signature")));
    }

    #[test]
    fn wrong_version_is_reported_after_the_signature_holds() {
        let payload = BASE64.encode("<a/>");
        let xml = format!(
            "<PaymentResponse><version>9.4</version><payload>{payload}</payload><signature>{}</signature></PaymentResponse>",
            sign(&payload, KEY)
        );
        let opened = open(&outer_b64(&xml), KEY).expect("signature holds");
        assert_eq!(opened.require_version(), Err(EnvelopeError::WrongVersion { found: "9.4".into() }));
    }

    #[test]
    fn signed_garbage_payload_is_reported_when_decoded() {
        let payload = "not*base64";
        let xml = format!(
            "<R><version>9.9</version><payload>{payload}</payload><signature>{}</signature></R>",
            sign(payload, KEY)
        );
        let opened = open(&outer_b64(&xml), KEY).expect("signature holds");
        assert_eq!(opened.decode_payload(), Err(EnvelopeError::PayloadNotBase64));
        let binary = BASE64.encode([0xff, 0x00]);
        let xml = format!(
            "<R><version>9.9</version><payload>{binary}</payload><signature>{}</signature></R>",
            sign(&binary, KEY)
        );
        let opened = open(&outer_b64(&xml), KEY).expect("signature holds");
        assert_eq!(opened.decode_payload(), Err(EnvelopeError::PayloadNotText));
    }

    #[test]
    fn indented_outer_xml_is_tolerated() {
        let payload = BASE64.encode("<a/>");
        let xml = format!(
            "<?xml version=\"1.0\"?>\n<PaymentResponse>\n  <version> 9.9 </version>\n  <payload>\n    {payload}\n  </payload>\n  <signature>{}</signature>\n  <extra>ignored</extra>\n</PaymentResponse>",
            sign(&payload, KEY)
        );
        let opened = open(&outer_b64(&xml), KEY).expect("opens");
        assert_eq!(opened.require_version(), Ok(()));
        assert_eq!(opened.decode_payload().as_deref(), Ok("<a/>"));
    }

    #[test]
    fn form_field_is_read_and_bare_plus_signs_mended() {
        assert_eq!(base64_form_field(b"paymentResponse=ab%2Bc%3D%3D", "paymentResponse").as_deref(), Ok("ab+c=="));
        assert_eq!(base64_form_field(b"x=1&paymentResponse=ab+c==", "paymentResponse").as_deref(), Ok("ab+c=="));
        assert_eq!(base64_form_field(b"x=1", "paymentResponse"), Err(FormError::MissingField("paymentResponse")));
        assert_eq!(base64_form_field(&[0xff, b'=', 0xfe], "paymentResponse"), Err(FormError::NotForm));
        assert_eq!(form_body("paymentRequest", "a+b=/"), "paymentRequest=a%2Bb%3D%2F");
        assert_eq!(request_form_body("a+b="), "paymentRequest=a%2Bb%3D");
    }

    #[test]
    fn a_bare_plus_at_either_end_survives_form_decoding() {
        // "se>" is "c2U+": an unescaped post turns that last `+` into a space, which must not be trimmed away.
        assert_eq!(base64_form_field(b"paymentResponse=c2U+", "paymentResponse").as_deref(), Ok("c2U+"));
        assert_eq!(base64_form_field(b"paymentResponse=+2U+&x=1", "paymentResponse").as_deref(), Ok("+2U+"));
        assert_eq!(base64_form_field(b"paymentResponse=c2U+\r\n", "paymentResponse").as_deref(), Ok("c2U+"));
        assert_eq!(base64_form_field(b"paymentResponse=%09c2U%2B%0A", "paymentResponse").as_deref(), Ok("c2U+"));
    }

    #[test]
    fn error_messages_name_the_problem() {
        assert_eq!(EnvelopeError::MissingElement("payload").to_string(), "envelope has no <payload> element");
        assert_eq!(FormError::MissingField("paymentResponse").to_string(), "form has no paymentResponse field");
    }

    proptest! {
        #[test]
        fn open_of_seal_is_identity(inner in "[ -~\u{a0}-\u{2fff}]{1,200}", key in proptest::collection::vec(any::<u8>(), 1..64)) {
            let opened = open(&seal("PaymentResponse", &inner, &key), &key).expect("opens");
            prop_assert_eq!(opened.decode_payload(), Ok(inner));
        }

        #[test]
        fn any_change_to_the_payload_text_is_rejected(inner in "[a-z<>/]{1,80}", position in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9+/=]") {
            let payload = BASE64.encode(&inner);
            let signature = sign(&payload, KEY);
            let at = position.index(payload.len());
            let mut tampered = payload.clone();
            tampered.replace_range(at..=at, &replacement);
            prop_assume!(tampered != payload);
            prop_assert!(!verify(&tampered, &signature, KEY));
        }

        #[test]
        fn any_change_to_the_signature_but_case_is_rejected(inner in "[a-z]{1,40}", position in 0usize..64, replacement in "[0-9A-Za-z]") {
            let payload = BASE64.encode(&inner);
            let signature = sign(&payload, KEY);
            let mut tampered = signature.clone();
            tampered.replace_range(position..=position, &replacement);
            let same_but_case = tampered.eq_ignore_ascii_case(&signature);
            prop_assert_eq!(verify(&payload, &tampered, KEY), same_but_case);
        }

        #[test]
        fn a_posted_envelope_opens_whether_or_not_it_was_percent_encoded(
            inner in "<PaymentResponse>(<[a-zA-Z]{1,12}>[ -;=?-~\u{a0}-\u{4e00}]{0,40}</[a-zA-Z]{1,12}>){0,6}</PaymentResponse>",
            key in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let envelope = seal("PaymentResponse", &inner, &key);
            let escaped = form_body("paymentResponse", &envelope);
            let unescaped = format!("paymentResponse={envelope}");
            for body in [escaped, unescaped] {
                let field = base64_form_field(body.as_bytes(), "paymentResponse").expect("field");
                prop_assert_eq!(&field, &envelope);
                let opened = open(&field, &key).expect("verifies");
                prop_assert_eq!(opened.decode_payload(), Ok(inner.clone()));
            }
        }

        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = open(&text, KEY);
            let _ = open(&BASE64.encode(&bytes), KEY);
            let _ = base64_form_field(&bytes, "paymentResponse");
        }
    }
}
