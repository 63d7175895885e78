//! Structured logs: one JSON object per line, written by the edge glue with
//! `console.log`, so `wrangler tail` and Workers Logs can filter on fields.
//!
//! A line names the request by its id, method, route and path, with the
//! status, the time it took, the visitor when their token was verified, and
//! the reason for any refusal. It never holds the query string (visitors'
//! actions), a header, a token or the secret. A path is logged only when it
//! is one of the API's: any other path is the client's text, which could
//! hold a token sent to the wrong place, so only its length is logged.

use serde::Serialize;

use crate::{anon_id::AnonId, handlers::Outcome, http::Request, kv::KvError, store::Slid};

#[derive(Serialize)]
struct Line<'a> {
    level: &'static str,
    event: &'static str,
    request_id: &'a str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown_path_bytes: Option<usize>,
    status: u16,
    duration_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    anon_id: Option<AnonId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'a str>,
}

/// The log line for a served request.
#[must_use]
pub fn request_line(
    req: &Request<'_>,
    outcome: &Outcome,
    request_id: &str,
    duration_ms: i64,
) -> String {
    let status = outcome.response.status;
    let level = match status {
        500.. => "error",
        _ if outcome.warning.is_some() => "warn",
        _ => "info",
    };
    let known = crate::routes::TABLE.iter().any(|(path, _, _)| *path == req.path);
    let line = Line {
        level,
        event: "request",
        request_id: truncate(request_id, 64),
        method: truncate(req.method, 16),
        route: outcome.route.map(crate::routes::Route::name),
        path: known.then_some(req.path),
        unknown_path_bytes: (!known).then_some(req.path.len()),
        status,
        duration_ms,
        anon_id: outcome.anon_id,
        error: outcome.error.as_ref().map(crate::error::ApiError::kind),
        detail: outcome.error.as_ref().and_then(crate::error::ApiError::log_detail),
        warning: outcome.warning.as_deref(),
    };
    serde_json::to_string(&line)
        .unwrap_or_else(|_| r#"{"level":"error","event":"log_failed"}"#.into())
}

#[derive(Serialize)]
struct SlideLine {
    level: &'static str,
    event: &'static str,
    anon_id: AnonId,
    #[serde(skip_serializing_if = "Option::is_none")]
    rewritten: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    complete: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// The log line of a scan that slid a visitor's expiration (run after the
/// response of the request that triggered it).
#[must_use]
pub fn slide_line(anon_id: AnonId, result: &Result<Slid, KvError>) -> String {
    let line = match result {
        Ok(slid) => SlideLine {
            level: "info",
            event: "slide",
            anon_id,
            rewritten: Some(slid.rewritten),
            complete: Some(slid.complete),
            detail: None,
        },
        Err(e) => SlideLine {
            level: "warn",
            event: "slide",
            anon_id,
            rewritten: None,
            complete: None,
            detail: Some(e.to_string()),
        },
    };
    serde_json::to_string(&line)
        .unwrap_or_else(|_| r#"{"level":"error","event":"log_failed"}"#.into())
}

/// The request id to use from a `CF-Ray` header: only a value shaped like a
/// Ray ID (16 hex digits, then optionally `-` and a three-letter location)
/// is taken, because outside Cloudflare's edge the header is the client's
/// own text, and it is echoed in `X-Request-Id` and written to the log.
#[must_use]
pub fn ray_id(cf_ray: Option<&str>) -> Option<&str> {
    let ray = cf_ray?;
    let (hex, location) = ray.split_once('-').unwrap_or((ray, "ABC"));
    let hex_ok = hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let location_ok = location.len() == 3 && location.bytes().all(|b| b.is_ascii_uppercase());
    (hex_ok && location_ok).then_some(ray)
}

#[derive(Serialize)]
struct Note<'a> {
    level: &'static str,
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    binding: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// A line about the worker rather than a request: a configuration it
/// refused, a binding it runs without, a platform call that failed.
#[must_use]
pub fn note(
    level: &'static str,
    event: &'static str,
    binding: Option<&str>,
    detail: Option<&str>,
) -> String {
    serde_json::to_string(&Note { level, event, binding, detail })
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
    fn only_a_ray_id_shaped_cf_ray_becomes_the_request_id() {
        for ray in ["8f1e2d3c4b5a6978-AMS", "8f1e2d3c4b5a6978", "8F1E2D3C4B5A6978-SJC"] {
            assert_eq!(ray_id(Some(ray)), Some(ray));
        }
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let long = "a".repeat(5000);
        for bad in [
            token,
            &long,
            "",
            "8f1e2d3c4b5a697-AMS",
            "8f1e2d3c4b5a6978-ams",
            "8f1e2d3c4b5a6978-AMSX",
            "8f1e2d3c4b5a697g",
        ] {
            assert_eq!(ray_id(Some(bad)), None, "{bad}");
        }
        assert_eq!(ray_id(None), None);
    }

    #[test]
    fn a_note_names_its_event_and_only_the_fields_it_has() {
        assert_eq!(
            note("warn", "rate_limit_off", Some("MINT_LIMITER"), None),
            r#"{"level":"warn","event":"rate_limit_off","binding":"MINT_LIMITER"}"#
        );
        assert_eq!(
            note("error", "config", None, Some("set \"JWT_SECRET\"")),
            r#"{"level":"error","event":"config","detail":"set \"JWT_SECRET\""}"#
        );
    }

    #[test]
    fn a_refused_token_is_logged_by_reason_not_by_value() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let auth = format!("Bearer {token}");
        let url = "http://h/anon/whoami?action=secret-plan";
        let req = Request::from_url("GET", url, Some(&auth));
        let error = ApiError::Token(TokenError::BadSignature);
        let outcome = Outcome {
            response: error.to_response(),
            route: Some(crate::routes::Route::WhoAmI),
            anon_id: None,
            error: Some(error),
            warning: None,
            follow_up: None,
        };
        let line = request_line(&req, &outcome, "8f1e2d3c4b5a6978-AMS", 3);
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("one JSON object");
        assert_eq!(parsed["error"], "invalid_token");
        assert_eq!(parsed["detail"], "token signature is invalid");
        assert_eq!(parsed["status"], 401);
        assert_eq!(parsed["route"], "whoami");
        assert_eq!(parsed["request_id"], "8f1e2d3c4b5a6978-AMS");
        assert_eq!(parsed["duration_ms"], 3);
        for part in token.split('.') {
            assert!(!line.contains(part));
        }
        assert!(!line.contains("secret-plan"));
    }

    #[test]
    fn a_slide_is_logged_with_what_it_did_or_why_it_failed() {
        let id = AnonId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").expect("id");
        let ok: serde_json::Value =
            serde_json::from_str(&slide_line(id, &Ok(Slid { rewritten: 7, complete: true })))
                .expect("json");
        assert_eq!(ok["event"], "slide");
        assert_eq!((ok["rewritten"].as_u64(), ok["complete"].as_bool()), (Some(7), Some(true)));
        let failed = KvError { op: "put", detail: "429 Too Many Requests".into() };
        let line: serde_json::Value =
            serde_json::from_str(&slide_line(id, &Err(failed))).expect("json");
        assert_eq!(line["level"], "warn");
        assert_eq!(line["detail"], "kv put failed: 429 Too Many Requests");
    }

    #[test]
    fn only_the_apis_own_paths_are_logged_others_by_length() {
        let outcome = |status| Outcome {
            response: Response::json(status, &()),
            route: None,
            anon_id: None,
            error: None,
            warning: None,
            follow_up: None,
        };
        let line = |url: &str, status| {
            let req = Request::from_url("GET", url, None);
            let text = request_line(&req, &outcome(status), "id", 0);
            serde_json::from_str::<serde_json::Value>(&text).expect("json")
        };
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let stray = line(&format!("http://h/anon/{token}"), 404);
        assert!(!stray.to_string().contains("eyJ"), "{stray}");
        assert_eq!(stray["unknown_path_bytes"], 6 + token.len());
        assert!(stray.get("path").is_none());

        let known = line("http://h/anon/whoami", 405);
        assert_eq!(known["path"], "/anon/whoami");
        assert!(known.get("unknown_path_bytes").is_none());
    }
}
