//! Structured logs: one JSON object per line, written by the edge glue with
//! `console.log`, so `wrangler tail` and Workers Logs can filter on fields.
//!
//! A line names the request by method and path only. It never holds the
//! query string (visitors' actions), a header, a token or the secret.

use serde::Serialize;

use crate::{handlers::Outcome, http::Request};

/// Paths are attacker-chosen; a long one is cut to keep lines small.
const MAX_LOGGED_PATH: usize = 128;

#[derive(Serialize)]
struct Line<'a> {
    level: &'static str,
    event: &'static str,
    method: &'a str,
    path: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'a str>,
}

/// The log line for a served request.
#[must_use]
pub fn request_line(req: &Request<'_>, outcome: &Outcome) -> String {
    let status = outcome.response.status;
    let level = match status {
        500.. => "error",
        _ if outcome.warning.is_some() => "warn",
        _ => "info",
    };
    let line = Line {
        level,
        event: "request",
        method: truncate(req.method, 16),
        path: truncate(req.path, MAX_LOGGED_PATH),
        status,
        error: outcome.error.as_ref().map(crate::error::ApiError::kind),
        detail: outcome.error.as_ref().and_then(crate::error::ApiError::log_detail),
        warning: outcome.warning.as_deref(),
    };
    serde_json::to_string(&line)
        .unwrap_or_else(|_| r#"{"level":"error","event":"log_failed"}"#.into())
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{error::ApiError, http::Response, token::TokenError};

    #[test]
    fn a_refused_token_is_logged_by_reason_not_by_value() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let auth = format!("Bearer {token}");
        let req = Request {
            method: "GET",
            path: "/anon/whoami",
            query: "action=secret-plan",
            authorization: Some(&auth),
        };
        let error = ApiError::Token(TokenError::BadSignature);
        let outcome = Outcome { response: error.to_response(), error: Some(error), warning: None };
        let line = request_line(&req, &outcome);
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("one JSON object");
        assert_eq!(parsed["error"], "invalid_token");
        assert_eq!(parsed["detail"], "token signature is invalid");
        assert_eq!(parsed["status"], 401);
        for part in token.split('.') {
            assert!(!line.contains(part));
        }
        assert!(!line.contains("secret-plan"));
    }

    #[test]
    fn long_paths_are_cut_on_a_character_boundary() {
        let path = format!("/{}", "é".repeat(200));
        let req = Request { method: "GET", path: &path, query: "", authorization: None };
        let outcome = Outcome { response: Response::json(404, &()), error: None, warning: None };
        let parsed: serde_json::Value =
            serde_json::from_str(&request_line(&req, &outcome)).expect("json");
        assert!(parsed["path"].as_str().unwrap().len() <= MAX_LOGGED_PATH);
    }
}
