//! The anonymous visitor's identifier.
//!
//! An [`AnonId`] is the only thing that may name a visitor's KV keys. It can
//! be made in two ways: freshly generated from the platform's secure random
//! source, or parsed from a string in the one canonical spelling (lowercase,
//! hyphenated, 36 characters). Refusing the other spellings that `uuid`
//! accepts (braces, `urn:uuid:`, upper case, no hyphens) means one visitor
//! can never be reached under two different key prefixes.

use std::fmt;

use uuid::Uuid;

/// A visitor's anonymous id: a UUID in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnonId(Uuid);

/// The random source failed; the platform could not produce an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomUnavailable(pub String);

impl fmt::Display for RandomUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secure random source unavailable: {}", self.0)
    }
}

impl std::error::Error for RandomUnavailable {}

impl AnonId {
    /// Length of the canonical text form.
    pub const LEN: usize = 36;

    /// A new version 4 id from `crypto.getRandomValues` (on the host, the
    /// operating system's generator).
    ///
    /// # Errors
    ///
    /// [`RandomUnavailable`] when the random source fails; the caller must
    /// not fall back to a weaker source.
    pub fn generate() -> Result<Self, RandomUnavailable> {
        let mut bytes = [0_u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| RandomUnavailable(e.to_string()))?;
        Ok(Self(uuid::Builder::from_random_bytes(bytes).into_uuid()))
    }

    /// Parses the canonical form only; `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        // The length check comes first so that a huge string costs nothing.
        if text.len() != Self::LEN {
            return None;
        }
        // At 36 characters `uuid` accepts only the hyphenated layout; what is
        // left to refuse is upper case.
        if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-')) {
            return None;
        }
        Uuid::try_parse(text).ok().map(Self)
    }
}

impl fmt::Display for AnonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl serde::Serialize for AnonId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_version_4_and_round_trip() {
        let id = AnonId::generate().expect("random source");
        let text = id.to_string();
        assert_eq!(text.len(), AnonId::LEN);
        assert_eq!(id.0.get_version_num(), 4);
        assert_eq!(AnonId::parse(&text), Some(id));
    }

    #[test]
    fn two_generated_ids_differ() {
        assert_ne!(AnonId::generate().unwrap(), AnonId::generate().unwrap());
    }

    #[test]
    fn only_the_canonical_spelling_parses() {
        let good = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
        assert!(AnonId::parse(good).is_some());
        for bad in [
            "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
            "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}",
            "urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301",
            "3f2504e04f8941d39a0c0305e82c3301",
            "3f2504e0-4f89-41d3-9a0c-0305e82c330",
            "3f2504e0-4f89-41d3-9a0c-0305e82c3301 ",
            "3f2504e0+4f89-41d3-9a0c-0305e82c3301",
            "",
            "..",
            "../x",
            "a:b",
            "12345",
        ] {
            assert_eq!(AnonId::parse(bad), None, "{bad}");
        }
        assert_eq!(AnonId::parse(&"a".repeat(600)), None);
    }
}
