//! Optional Cloudflare Turnstile check on minting.
//!
//! When `TURNSTILE_SECRET` is set, `POST /anon/login` needs a Turnstile token,
//! sent in the `CF-Turnstile-Response` header or as `cf-turnstile-response`
//! in a JSON body. The worker asks Cloudflare's siteverify API about it and
//! mints only on `success: true`. If siteverify cannot be reached or does not
//! answer within [`TIMEOUT_MS`], minting fails closed with 503: a bot must
//! not get tokens because the check is down.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Cloudflare's verification endpoint.
pub const SITEVERIFY_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";

/// Siteverify takes its parameters as a form or as JSON; JSON is what the
/// worker already writes, so it needs no form encoder.
pub const REQUEST_CONTENT_TYPE: &str = "application/json";

/// How long siteverify may take before minting fails closed.
pub const TIMEOUT_MS: u32 = 3000;

/// Turnstile tokens are at most 2048 characters.
const MAX_TOKEN_LEN: usize = 2048;

/// Why a mint was refused by the Turnstile check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnstileError {
    /// No Turnstile token was sent.
    Missing,
    /// Siteverify said no; its error codes, for the log.
    Rejected(Vec<String>),
    /// Siteverify could not be asked, or answered nonsense.
    Unavailable(String),
}

impl fmt::Display for TurnstileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str(
                "a Turnstile token is required: send it in the CF-Turnstile-Response header",
            ),
            Self::Rejected(_) => f.write_str("the Turnstile token was not accepted"),
            Self::Unavailable(_) => f.write_str(
                "the Turnstile check is unavailable, so no session was created; try again",
            ),
        }
    }
}

impl std::error::Error for TurnstileError {}

impl TurnstileError {
    /// What the log adds: siteverify's codes or the transport failure.
    #[must_use]
    pub fn log_detail(&self) -> Option<String> {
        match self {
            Self::Missing => None,
            Self::Rejected(codes) => Some(format!("siteverify error codes: {}", codes.join(", "))),
            Self::Unavailable(why) => Some(format!("siteverify unavailable: {why}")),
        }
    }
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "cf-turnstile-response")]
    token: String,
}

/// The token from the header, or else from a JSON body.
#[must_use]
pub fn token_from(header: Option<&str>, body: Option<&str>) -> Option<String> {
    let token = header
        .map(str::to_owned)
        .or_else(|| body.and_then(|b| serde_json::from_str::<Body>(b).ok()).map(|b| b.token))?;
    let token = token.trim().to_owned();
    (!token.is_empty() && token.len() <= MAX_TOKEN_LEN).then_some(token)
}

#[derive(Serialize)]
struct Request<'a> {
    secret: &'a str,
    response: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remoteip: Option<&'a str>,
}

/// The body siteverify expects, as [`REQUEST_CONTENT_TYPE`].
#[must_use]
pub fn request_body(secret: &str, token: &str, remote_ip: Option<&str>) -> String {
    let request = Request { secret, response: token, remoteip: remote_ip };
    // Serialising three strings cannot fail; an empty body would be
    // refused by siteverify, and the mint with it.
    serde_json::to_string(&request).unwrap_or_default()
}

#[derive(Deserialize)]
struct Verdict {
    success: bool,
    #[serde(rename = "error-codes", default)]
    error_codes: Vec<String>,
}

/// Reads siteverify's answer.
///
/// # Errors
///
/// [`TurnstileError::Rejected`] when it says no, and
/// [`TurnstileError::Unavailable`] when the answer is not what the API
/// documents.
pub fn judge(answer: &str) -> Result<(), TurnstileError> {
    let verdict: Verdict = serde_json::from_str(answer)
        .map_err(|e| TurnstileError::Unavailable(format!("unreadable answer: {e}")))?;
    if verdict.success { Ok(()) } else { Err(TurnstileError::Rejected(verdict.error_codes)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_header_or_a_json_body() {
        assert_eq!(token_from(Some("abc"), None), Some("abc".into()));
        let body = r#"{"cf-turnstile-response":"xyz"}"#;
        assert_eq!(token_from(None, Some(body)), Some("xyz".into()));
        assert_eq!(token_from(Some("abc"), Some(body)), Some("abc".into()));
        for body in ["", "{}", "not json", r#"{"cf-turnstile-response":""}"#] {
            assert_eq!(token_from(None, Some(body)), None, "{body}");
        }
        assert_eq!(token_from(Some(&"a".repeat(3000)), None), None);
    }

    #[test]
    fn the_request_is_json_with_the_ip_when_known() {
        assert_eq!(
            request_body("s\"cret", "t=k", Some("2001:db8::1")),
            r#"{"secret":"s\"cret","response":"t=k","remoteip":"2001:db8::1"}"#
        );
        assert_eq!(request_body("s", "t", None), r#"{"secret":"s","response":"t"}"#);
    }

    #[test]
    fn siteverify_answers_are_judged() {
        assert_eq!(judge(r#"{"success":true,"error-codes":[]}"#), Ok(()));
        assert_eq!(
            judge(r#"{"success":false,"error-codes":["invalid-input-response"]}"#),
            Err(TurnstileError::Rejected(vec!["invalid-input-response".into()]))
        );
        assert!(matches!(judge("<html>"), Err(TurnstileError::Unavailable(_))));
    }
}
