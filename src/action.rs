//! The `action` a visitor records, taken from the query string of
//! `POST /items/add_action?action=…` and checked before it goes near KV.
//!
//! Decoding follows `application/x-www-form-urlencoded`, as FastAPI and the
//! browser's `URLSearchParams` do: `+` is a space and `%2B` is a plus sign.
//! Clients should encode the value with `encodeURIComponent`. After decoding,
//! the value must be valid UTF-8 (`%FF` alone is not), non-empty, at most
//! [`MAX_ACTION_CHARS`] characters, free of control characters (`%00`,
//! `%0A`…), and given once. It is then stored and returned exactly as
//! decoded.
//!
//! Known shortcoming: only control characters (Unicode category Cc) are
//! refused. Format characters such as U+202E (which reverses how the text
//! after it is displayed) or U+200B, and values made only of spaces, are
//! stored as sent. A page that renders actions must treat them as untrusted
//! text, not markup and not layout.
//!
//! The limit counts Unicode characters (code points), as JSON Schema's
//! `maxLength` does, so the OpenAPI document can state it exactly. Note that
//! JavaScript's `String.length` counts UTF-16 units: an emoji is one
//! character here and two there.

use std::fmt;

use crate::query::{self, ParamError};

/// Longest action, in characters. The action travels in KV key metadata,
/// which is capped at 1024 bytes of JSON; 200 characters take at most 800
/// bytes (four-byte characters, or two-byte escapes of `"` and `\`).
pub const MAX_ACTION_CHARS: usize = 200;

/// A validated action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action(String);

impl Action {
    /// Checks an already decoded value.
    ///
    /// # Errors
    ///
    /// [`ActionError`] when the value is empty, too long or holds a control
    /// character.
    pub fn new(value: String) -> Result<Self, ActionError> {
        if value.is_empty() {
            return Err(ActionError::Empty);
        }
        // Checked on bytes first so that a huge value is refused without
        // counting its characters.
        if value.len() > MAX_ACTION_CHARS * 4 || value.chars().count() > MAX_ACTION_CHARS {
            return Err(ActionError::TooLong);
        }
        if value.chars().any(char::is_control) {
            return Err(ActionError::ControlCharacter);
        }
        Ok(Self(value))
    }

    /// The action's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Takes the action's text.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Why an `action` parameter was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActionError {
    /// No `action` parameter.
    Missing,
    /// More than one `action` parameter.
    Repeated,
    /// `action=` with nothing after it.
    Empty,
    /// Longer than [`MAX_ACTION_CHARS`] once decoded.
    TooLong,
    /// The percent-decoded bytes are not UTF-8.
    NotUtf8,
    /// A control character such as NUL or a line feed.
    ControlCharacter,
}

impl ActionError {
    /// The rule that was broken, without naming the field, so that the
    /// query form and the JSON body can each name theirs.
    #[must_use]
    pub fn rule(self) -> String {
        match self {
            Self::Missing => "is required".to_owned(),
            Self::Repeated => "must be given once".to_owned(),
            Self::Empty => "must not be empty".to_owned(),
            Self::TooLong => format!("must be at most {MAX_ACTION_CHARS} characters"),
            Self::NotUtf8 => "is not valid UTF-8".to_owned(),
            Self::ControlCharacter => "must not contain control characters".to_owned(),
        }
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query parameter `action` {}", self.rule())
    }
}

impl std::error::Error for ActionError {}

/// Finds and validates the single `action` parameter in a raw query string
/// (the part after `?`, without the `#` fragment), decoded by
/// [`crate::query`].
///
/// # Errors
///
/// [`ActionError`] saying what is wrong with the parameter.
pub fn from_query(query: &str) -> Result<Action, ActionError> {
    let raw = query::raw(query, "action").map_err(param_error)?.ok_or(ActionError::Missing)?;
    // A character is at most four bytes, and percent-encoding triples each;
    // anything longer cannot decode to an acceptable action.
    if raw.len() > MAX_ACTION_CHARS * 4 * 3 {
        return Err(ActionError::TooLong);
    }
    Action::new(query::decode(raw).map_err(param_error)?.into_owned())
}

fn param_error(e: ParamError) -> ActionError {
    match e {
        ParamError::Repeated => ActionError::Repeated,
        ParamError::NotUtf8 => ActionError::NotUtf8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(query: &str) -> Result<String, ActionError> {
        from_query(query).map(Action::into_string)
    }

    #[test]
    fn plain_and_encoded_values_decode_exactly() {
        assert_eq!(action("action=click"), Ok("click".into()));
        assert_eq!(action("action=a%20b"), Ok("a b".into()));
        assert_eq!(action("action=caf%C3%A9%20%E2%98%95"), Ok("café ☕".into()));
        assert_eq!(action("x=1&action=viewed&y=2"), Ok("viewed".into()));
        assert_eq!(action("action=50%25"), Ok("50%".into()));
    }

    #[test]
    fn plus_is_a_space_and_encoded_plus_is_a_plus() {
        assert_eq!(action("action=a+b"), Ok("a b".into()));
        assert_eq!(action("action=a%2Bb"), Ok("a+b".into()));
    }

    #[test]
    fn missing_empty_and_repeated_are_refused() {
        assert_eq!(action(""), Err(ActionError::Missing));
        assert_eq!(action("other=1"), Err(ActionError::Missing));
        assert_eq!(action("action="), Err(ActionError::Empty));
        assert_eq!(action("action"), Err(ActionError::Empty));
        assert_eq!(action("action=a&action=b"), Err(ActionError::Repeated));
        assert_eq!(action("action=a&%61ction=b"), Err(ActionError::Repeated));
    }

    #[test]
    fn control_characters_are_refused() {
        for query in ["action=%00", "action=a%0Ab", "action=%0D", "action=%09", "action=%7F"] {
            assert_eq!(action(query), Err(ActionError::ControlCharacter), "{query}");
        }
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert_eq!(action("action=%FF"), Err(ActionError::NotUtf8));
        assert_eq!(action("action=%C3"), Err(ActionError::NotUtf8));
    }

    #[test]
    fn length_is_capped_in_decoded_characters() {
        let at_cap = "a".repeat(MAX_ACTION_CHARS);
        assert_eq!(action(&format!("action={at_cap}")), Ok(at_cap));
        let over = "a".repeat(MAX_ACTION_CHARS + 1);
        assert_eq!(action(&format!("action={over}")), Err(ActionError::TooLong));
        let huge = "a".repeat(100_000);
        assert_eq!(action(&format!("action={huge}")), Err(ActionError::TooLong));
        // Four-byte characters count once each.
        let wide = "%F0%9F%98%80".repeat(MAX_ACTION_CHARS);
        assert_eq!(action(&format!("action={wide}")), Ok("😀".repeat(MAX_ACTION_CHARS)));
        let wider = "%F0%9F%98%80".repeat(MAX_ACTION_CHARS + 1);
        assert_eq!(action(&format!("action={wider}")), Err(ActionError::TooLong));
    }

    #[test]
    fn a_stray_percent_is_kept_literally() {
        assert_eq!(action("action=100%"), Ok("100%".into()));
        assert_eq!(action("action=%zz"), Ok("%zz".into()));
    }
}
