//! The order description as 2C2P accepts it in `desc`.

use thiserror::Error;

/// Symbols 2C2P refuses in `desc`.
pub const FORBIDDEN_SYMBOLS: &[char] = &['!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '<', '>'];
/// 2C2P's limit on `desc`, in characters.
pub const MAX_DESC_CHARS: usize = 50;

/// Why an order's description cannot become a `desc` 2C2P would accept.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DescriptionError {
    /// Nothing is left once forbidden symbols and whitespace are removed (a description such as `(!)`):
    /// the caller must supply real text.
    #[error("description is empty once 2C2P's forbidden symbols (! @ # $ % ^ & * ( ) < >) and whitespace are removed")]
    EmptyAfterCleaning,
}

/// Cleans a description for 2C2P: forbidden symbols removed, whitespace (and control characters,
/// which XML cannot carry) collapsed to one space, trimmed, cut to 50 characters.
pub fn clean_description(description: &str) -> Result<String, DescriptionError> {
    let mut cleaned = String::with_capacity(description.len());
    let mut pending_space = false;
    for ch in description.chars().filter(|c| !FORBIDDEN_SYMBOLS.contains(c)) {
        if ch.is_whitespace() || ch.is_control() {
            pending_space = !cleaned.is_empty();
            continue;
        }
        if pending_space {
            cleaned.push(' ');
            pending_space = false;
        }
        cleaned.push(ch);
    }
    let cut: String = cleaned.chars().take(MAX_DESC_CHARS).collect();
    let cut = cut.trim_end().to_owned();
    if cut.is_empty() { Err(DescriptionError::EmptyAfterCleaning) } else { Ok(cut) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn removes_symbols_collapses_whitespace_and_trims() {
        assert_eq!(clean_description("Latte x2").as_deref(), Ok("Latte x2"));
        assert_eq!(clean_description("  Latte\t\n x2 (large)!  ").as_deref(), Ok("Latte x2 large"));
        assert_eq!(clean_description("50% off <b>tea</b> & cake").as_deref(), Ok("50 off btea/b cake"));
        assert_eq!(clean_description("a\u{0}b\u{7}c").as_deref(), Ok("a b c"));
        assert_eq!(clean_description("拿铁 两杯").as_deref(), Ok("拿铁 两杯"));
    }

    #[test]
    fn cuts_to_fifty_characters_not_bytes() {
        let long = "咖".repeat(80);
        assert_eq!(clean_description(&long).map(|d| d.chars().count()), Ok(50));
        let spaced = format!("{} tail", "a".repeat(49));
        assert_eq!(
            clean_description(&spaced).as_deref(),
            Ok("a".repeat(49).as_str()),
            "no trailing space after the cut"
        );
    }

    #[test]
    fn empty_after_cleaning_is_an_error() {
        for text in ["", "   ", "!@#$%^&*()<>", " ( ) "] {
            assert_eq!(clean_description(text), Err(DescriptionError::EmptyAfterCleaning), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn cleaned_text_obeys_every_rule(text in "\\PC{0,200}") {
            if let Ok(cleaned) = clean_description(&text) {
                prop_assert!(!cleaned.is_empty());
                prop_assert!(cleaned.chars().count() <= MAX_DESC_CHARS);
                prop_assert!(!cleaned.contains(FORBIDDEN_SYMBOLS));
                prop_assert_eq!(cleaned.trim(), cleaned.as_str());
                prop_assert!(!cleaned.contains("  "));
                prop_assert!(!cleaned.chars().any(|c| c.is_control() || (c.is_whitespace() && c != ' ')));
            }
        }
    }
}
