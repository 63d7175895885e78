//! The JSON body of `POST /v1/actions`: `{"type": "...", "data": <any JSON>}`.
//!
//! `type` follows the same rules as the seed's `action` text (see
//! [`crate::action`]): the seed's query form is stored as an action of that
//! type with no data, so both forms land in one store and list alike.
//! `data` is optional; `null` means none. Fields other than these two are
//! refused, so that a misspelt field is an error rather than lost data.
//!
//! The stored action travels in its KV key's metadata, which KV caps at 1024
//! bytes of JSON; that is what lets one `list` call read a page of actions
//! without a `get` each. So `type` and `data` together, as stored, must fit
//! [`MAX_ACTION_JSON_BYTES`]: `data` is stored as a string holding its JSON
//! text, so that JavaScript never reads its numbers as doubles, and its
//! quotes and backslashes count twice. That bounds `data` to a little under
//! 900 bytes (about half that for text made mostly of quotes): enough for an
//! event's attributes, not for documents.
//!
//! `data` is kept as the client sent it, less the whitespace between tokens
//! (see [`crate::json`]): numbers keep their digits, objects their key order.
//! It may nest at most [`crate::json::MAX_DEPTH`] levels.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    action::{Action, ActionError},
    json::Json,
};

/// Longest `{"type":…,"data":"<data's JSON text>"}` accepted. With the stored
/// timestamp and field names it stays under KV's 1024 bytes of metadata.
pub const MAX_ACTION_JSON_BYTES: usize = 900;

/// A structured action, checked and ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAction {
    /// Its type: the same rules as the seed's action text.
    pub kind: Action,
    /// Its data, if any (never `null`), without whitespace between tokens.
    pub data: Option<Json>,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// `Content-Type` is not `application/json`.
    NotJsonContentType,
    /// No body at all.
    Missing,
    /// The body's bytes are not UTF-8.
    NotUtf8,
    /// Not JSON, or not an object of the documented shape; the parser's
    /// message says where.
    Malformed(String),
    /// `type` breaks a rule.
    BadType(ActionError),
    /// `type` and `data` together are over [`MAX_ACTION_JSON_BYTES`].
    TooLarge,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJsonContentType => f.write_str("Content-Type must be application/json"),
            Self::Missing => f.write_str("a JSON body {\"type\": ..., \"data\": ...} is required"),
            Self::NotUtf8 => f.write_str("the body is not valid UTF-8"),
            Self::Malformed(why) => write!(f, "the body is not a valid action: {why}"),
            Self::BadType(e) => write!(f, "`type` {}", e.rule()),
            Self::TooLarge => write!(
                f,
                "`type` and `data` together must be at most {MAX_ACTION_JSON_BYTES} bytes as \
                 stored, where quotes and backslashes in `data` count twice"
            ),
        }
    }
}

impl std::error::Error for BodyError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(rename = "type")]
    kind: String,
    /// `null` and a missing `data` both read as `None`.
    #[serde(default)]
    data: Option<Json>,
}

/// What the size cap measures: the action as it will be stored, with the
/// data's text held in a string (see [`crate::json::as_string`]).
#[derive(Serialize)]
struct Sized<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: Option<&'a str>,
}

/// Whether a `Content-Type` value is JSON: `application/json`, in any case,
/// with or without parameters such as `charset=utf-8`.
#[must_use]
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        let essence = value.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
    })
}

/// Parses and checks a body. `body` is `None` when there was none.
///
/// # Errors
///
/// A [`BodyError`] saying what is wrong.
pub fn parse(content_type: Option<&str>, body: Option<&str>) -> Result<NewAction, BodyError> {
    if !is_json(content_type) {
        return Err(BodyError::NotJsonContentType);
    }
    let text = body.map(str::trim).filter(|b| !b.is_empty()).ok_or(BodyError::Missing)?;
    // serde would also read a struct from an array, `["viewed", null]`.
    if !text.starts_with('{') {
        return Err(BodyError::Malformed("expected a JSON object".to_owned()));
    }
    // `data` is checked without being built into a tree (serde_json skips
    // over it iteratively), so no nesting can exhaust the stack; the body
    // itself is capped by the edge.
    let parsed: Body =
        serde_json::from_str(text).map_err(|e| BodyError::Malformed(e.to_string()))?;

    let kind = Action::new(parsed.kind).map_err(BodyError::BadType)?;
    let data = parsed
        .data
        .map(|d| d.compact().map_err(|e| BodyError::Malformed(e.to_string())))
        .transpose()?;
    let sized = Sized { kind: kind.as_str(), data: data.as_ref().map(Json::get) };
    let size = serde_json::to_string(&sized).map_or(usize::MAX, |s| s.len());
    if size > MAX_ACTION_JSON_BYTES {
        return Err(BodyError::TooLarge);
    }
    Ok(NewAction { kind, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Option<Json> {
        Some(Json::from_text(text.to_owned()).expect("valid JSON"))
    }

    const JSON: Option<&str> = Some("application/json");

    fn parsed(body: &str) -> Result<NewAction, BodyError> {
        parse(JSON, Some(body))
    }

    #[test]
    fn a_type_with_or_without_data_is_accepted() {
        let a = parsed(r#"{"type":"added to cart","data":{"sku":"A-1","qty":2}}"#).expect("ok");
        assert_eq!(a.kind.as_str(), "added to cart");
        assert_eq!(a.data, json(r#"{"sku":"A-1","qty":2}"#));
        assert_eq!(parsed(r#"{"type":"viewed"}"#).expect("ok").data, None);
        assert_eq!(parsed(r#"{"type":"viewed","data":null}"#).expect("ok").data, None);
        assert_eq!(
            parsed(r#"{"type":"n","data":[1,"two",false]}"#).expect("ok").data,
            json(r#"[1,"two",false]"#)
        );
    }

    #[test]
    fn the_content_type_must_be_json_in_any_case_with_parameters() {
        for ok in ["application/json", "Application/JSON", "application/json; charset=utf-8"] {
            assert!(parse(Some(ok), Some(r#"{"type":"a"}"#)).is_ok(), "{ok}");
        }
        for bad in [None, Some("text/plain"), Some("application/jsonx"), Some("")] {
            assert_eq!(parse(bad, Some(r#"{"type":"a"}"#)), Err(BodyError::NotJsonContentType));
        }
    }

    #[test]
    fn a_missing_or_malformed_body_says_what_is_wrong() {
        assert_eq!(parse(JSON, None), Err(BodyError::Missing));
        assert_eq!(parse(JSON, Some("  ")), Err(BodyError::Missing));
        for (body, fragment) in [
            ("{", "EOF"),
            ("[]", "expected a JSON object"),
            (r#"["viewed",null]"#, "expected a JSON object"),
            ("\"viewed\"", "expected a JSON object"),
            (r#"{"data":1}"#, "missing field `type`"),
            (r#"{"type":1}"#, "invalid type"),
            (r#"{"type":"a","extra":1}"#, "unknown field `extra`"),
            (r#"{"type":"a","type":"b"}"#, "duplicate field `type`"),
        ] {
            let e = parsed(body).expect_err(body);
            assert!(matches!(e, BodyError::Malformed(_)), "{body}");
            assert!(e.to_string().contains(fragment), "{body}: {e}");
        }
    }

    #[test]
    fn the_type_follows_the_action_rules() {
        assert_eq!(parsed(r#"{"type":""}"#), Err(BodyError::BadType(ActionError::Empty)));
        assert_eq!(
            parsed(r#"{"type":"a\u0000b"}"#),
            Err(BodyError::BadType(ActionError::ControlCharacter))
        );
        let long = format!(r#"{{"type":"{}"}}"#, "x".repeat(201));
        assert_eq!(parsed(&long), Err(BodyError::BadType(ActionError::TooLong)));
        assert_eq!(
            BodyError::BadType(ActionError::TooLong).to_string(),
            "`type` must be at most 200 characters"
        );
    }

    #[test]
    fn type_and_data_together_are_capped() {
        let fits = format!(r#"{{"type":"t","data":"{}"}}"#, "d".repeat(870));
        assert!(parsed(&fits).is_ok());
        let over = format!(r#"{{"type":"t","data":"{}"}}"#, "d".repeat(890));
        assert_eq!(parsed(&over), Err(BodyError::TooLarge));
        // Escapes count as they will be stored.
        let escaped = format!(r#"{{"type":"t","data":"{}"}}"#, "\\n".repeat(440));
        assert_eq!(parsed(&escaped), Err(BodyError::TooLarge));
    }

    #[test]
    fn data_is_kept_as_sent_less_whitespace() {
        let a = parsed(r#"{"type":"t","data": { "z" : 1.50, "a" : [ 1e3 ] } }"#).expect("ok");
        assert_eq!(a.data, json(r#"{"z":1.50,"a":[1e3]}"#));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let nest = |n| format!(r#"{{"type":"t","data":{}{}}}"#, "[".repeat(n), "]".repeat(n));
        assert!(parsed(&nest(crate::json::MAX_DEPTH)).is_ok());
        let e = parsed(&nest(crate::json::MAX_DEPTH + 1)).expect_err("too deep");
        assert_eq!(
            e.to_string(),
            "the body is not a valid action: JSON nests deeper than 128 levels"
        );
        // Far deeper than any stack would take, if it were recursed into.
        assert!(matches!(parsed(&nest(100_000)), Err(BodyError::Malformed(_))));
    }
}
