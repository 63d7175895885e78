//! Every way a request can fail, and the one place where a failure becomes
//! an HTTP response.
//!
//! The client gets a status, a short JSON `detail` shaped like the seed's
//! FastAPI errors, and the headers the standards require. Internal detail
//! (a KV message, a random-source failure) goes to the log only, through
//! [`ApiError::log_detail`]. No message quotes a token or the secret.

use std::fmt;

use crate::{
    action::ActionError,
    action_json::BodyError,
    anon_id::RandomUnavailable,
    bearer::BearerError,
    config::ConfigError,
    http::{MAX_BODY_BYTES, Response},
    kv::KvError,
    page::PageError,
    token::{MintError, TokenError},
    turnstile::TurnstileError,
};

/// Why an erased visitor's token is refused.
const ERASED: &str = "this session was erased; start a new one";

/// Seconds a rate-limited client is told to wait: the limiters' period
/// (`simple.period` in `wrangler.toml`, 60 s).
pub const RATE_LIMIT_RETRY_SECONDS: u32 = 60;

/// Why a request was not served.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// No such path.
    NotFound,
    /// The path exists but not for this method.
    MethodNotAllowed {
        /// The methods it allows, for the `Allow` header.
        allow: String,
    },
    /// The request carries no usable bearer token.
    Bearer(BearerError),
    /// The bearer token was refused.
    Token(TokenError),
    /// The `action` parameter was refused.
    Action(ActionError),
    /// The body of a structured action was refused.
    Body(BodyError),
    /// The query of a page of actions was refused.
    Page(PageError),
    /// The body is larger than [`MAX_BODY_BYTES`].
    BodyTooLarge,
    /// The visitor erased their data, which revoked their tokens.
    Erased,
    /// A CORS preflight from an origin not in `ALLOWED_ORIGINS`.
    OriginNotAllowed,
    /// The visitor holds [`crate::store::MAX_ACTIONS_PER_VISITOR`] actions.
    TooManyActions,
    /// A rate limiter said no.
    RateLimited,
    /// The Turnstile check refused the mint or could not be made.
    Turnstile(TurnstileError),
    /// The worker is misconfigured and fails closed.
    Config(ConfigError),
    /// Workers KV failed.
    Storage(KvError),
    /// The secure random source failed.
    Random(RandomUnavailable),
    /// A token could not be signed.
    Mint(MintError),
}

impl ApiError {
    /// A short, stable name for logs and metrics.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Bearer(e) => e.error_code().unwrap_or("missing_token"),
            Self::Token(_) => "invalid_token",
            Self::Action(_) => "invalid_action",
            Self::Body(BodyError::NotJsonContentType) => "unsupported_media_type",
            Self::Body(_) => "invalid_body",
            Self::Page(_) => "invalid_page",
            Self::BodyTooLarge => "body_too_large",
            Self::Erased => "erased",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::TooManyActions => "too_many_actions",
            Self::RateLimited => "rate_limited",
            Self::Turnstile(TurnstileError::Missing) => "turnstile_missing",
            Self::Turnstile(TurnstileError::Rejected(_)) => "turnstile_rejected",
            Self::Turnstile(_) => "turnstile_unavailable",
            Self::Config(_) => "misconfigured",
            Self::Storage(_) => "storage_unavailable",
            Self::Random(_) => "random_unavailable",
            Self::Mint(_) => "mint_failed",
        }
    }

    /// What the log should say beyond the response, for failures whose
    /// cause the client is not told.
    #[must_use]
    pub fn log_detail(&self) -> Option<String> {
        match self {
            Self::Storage(e) => Some(e.to_string()),
            Self::Random(e) => Some(e.to_string()),
            Self::Mint(e) => Some(e.to_string()),
            Self::Config(e) => Some(e.to_string()),
            Self::Token(e) => Some(e.to_string()),
            Self::Bearer(e) => Some(e.to_string()),
            Self::Turnstile(e) => e.log_detail(),
            // The rule broken, never the value: an action is the visitor's
            // data, and serde's messages can quote the body.
            Self::Action(e) => Some(e.rule()),
            Self::Body(BodyError::Malformed(_)) => Some("the body is not a valid action".into()),
            Self::Body(e) => Some(e.to_string()),
            Self::Page(e) => Some(e.to_string()),
            _ => None,
        }
    }

    /// The response the client receives.
    #[must_use]
    pub fn to_response(&self) -> Response {
        match self {
            Self::NotFound => detail(404, "Not Found"),
            Self::MethodNotAllowed { allow } => {
                detail(405, "Method Not Allowed").with_header("allow", allow.clone())
            }
            // RFC 6750 §3.1 would answer `invalid_request` with 400; we send
            // 401 for every bearer failure so that a client has one status
            // to react to (mint or refresh), and the challenge's error code
            // still tells the cases apart.
            Self::Bearer(e) => {
                let challenge = e
                    .error_code()
                    .map_or_else(|| "Bearer".to_owned(), |code| challenge(code, &e.to_string()));
                detail(401, &e.to_string()).with_header("www-authenticate", challenge)
            }
            Self::Token(e) => detail(401, &e.to_string())
                .with_header("www-authenticate", challenge("invalid_token", &e.to_string())),
            Self::Action(e) => detail(422, &e.to_string()),
            Self::Body(e @ BodyError::NotJsonContentType) => detail(415, &e.to_string()),
            Self::Body(e) => detail(422, &e.to_string()),
            Self::Page(e) => detail(422, &e.to_string()),
            Self::BodyTooLarge => {
                detail(413, &format!("the request body must be at most {MAX_BODY_BYTES} bytes"))
            }
            // The token itself is sound; what it names is gone. Like any
            // refused token it is a 401, so clients have one reaction:
            // start a new session.
            Self::Erased => detail(401, ERASED)
                .with_header("www-authenticate", challenge("invalid_token", ERASED)),
            // No CORS headers: the page's origin may not read it.
            Self::OriginNotAllowed => {
                detail(403, "origin not allowed").with_header("vary", "Origin".into())
            }
            Self::TooManyActions => detail(
                409,
                &format!(
                    "this visitor already holds the maximum of {} actions",
                    crate::store::MAX_ACTIONS_PER_VISITOR
                ),
            ),
            Self::RateLimited => detail(
                429,
                &format!("too many requests; retry in {RATE_LIMIT_RETRY_SECONDS} seconds"),
            )
            .with_header("retry-after", RATE_LIMIT_RETRY_SECONDS.to_string()),
            Self::Turnstile(e @ TurnstileError::Unavailable(_)) => {
                detail(503, &e.to_string()).with_header("retry-after", "5".into())
            }
            Self::Turnstile(e) => detail(403, &e.to_string()),
            Self::Config(e) => detail(500, &e.to_string()),
            Self::Storage(_) => detail(503, "storage is temporarily unavailable; try again")
                .with_header("retry-after", "1".into()),
            Self::Random(_) | Self::Mint(_) => detail(503, "could not create a session; try again")
                .with_header("retry-after", "1".into()),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Bearer(e) => Some(e),
            Self::Token(e) => Some(e),
            Self::Action(e) => Some(e),
            Self::Body(e) => Some(e),
            Self::Page(e) => Some(e),
            Self::Config(e) => Some(e),
            Self::Storage(e) => Some(e),
            Self::Random(e) => Some(e),
            Self::Mint(e) => Some(e),
            Self::Turnstile(e) => Some(e),
            Self::NotFound
            | Self::MethodNotAllowed { .. }
            | Self::TooManyActions
            | Self::RateLimited
            | Self::BodyTooLarge
            | Self::Erased
            | Self::OriginNotAllowed => None,
        }
    }
}

#[derive(serde::Serialize)]
struct Detail<'a> {
    detail: &'a str,
}

fn detail(status: u16, text: &str) -> Response {
    Response::json(status, &Detail { detail: text })
}

/// A `WWW-Authenticate` challenge. Our descriptions are fixed ASCII strings
/// without quotes or backslashes, so they need no escaping.
fn challenge(code: &str, description: &str) -> String {
    format!(r#"Bearer error="{code}", error_description="{description}""#)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response) -> serde_json::Value {
        serde_json::from_str(&r.body).expect("json body")
    }

    #[test]
    fn a_missing_token_gets_a_bare_bearer_challenge() {
        let r = ApiError::Bearer(BearerError::Missing).to_response();
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert!(body(&r)["detail"].as_str().unwrap().contains("Authorization"));
    }

    #[test]
    fn a_refused_token_says_invalid_token() {
        let r = ApiError::Token(TokenError::Expired).to_response();
        assert_eq!(r.status, 401);
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token", error_description="token has expired""#)
        );
        assert_eq!(body(&r)["detail"], "token has expired");
    }

    #[test]
    fn an_empty_bearer_is_a_401_invalid_request() {
        let r = ApiError::Bearer(BearerError::EmptyToken).to_response();
        assert_eq!(r.status, 401);
        assert!(r.header("www-authenticate").unwrap().contains(r#"error="invalid_request""#));
    }

    #[test]
    fn descriptions_in_challenges_need_no_escaping() {
        let all_token = [
            TokenError::TooLong,
            TokenError::Malformed,
            TokenError::WrongAlgorithm,
            TokenError::UnsupportedHeader,
            TokenError::BadSignature,
            TokenError::MalformedClaims,
            TokenError::MissingExpiry,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::WrongType,
            TokenError::BadSubject,
            TokenError::UnknownKey,
            TokenError::MissingKeyId,
            TokenError::WrongIssuer,
            TokenError::WrongAudience,
        ];
        let texts = all_token.iter().map(ToString::to_string).chain(
            [BearerError::EmptyToken, BearerError::InvalidCharacters, BearerError::TooLong]
                .iter()
                .map(ToString::to_string),
        );
        for text in texts.chain([ERASED.to_owned()]) {
            assert!(text.bytes().all(|b| b.is_ascii() && b != b'"' && b != b'\\'), "{text}");
        }
    }

    #[test]
    fn storage_failures_hide_the_platform_message() {
        let e = ApiError::Storage(KvError { op: "put", detail: "internal thing".into() });
        let r = e.to_response();
        assert_eq!(r.status, 503);
        assert!(!r.body.contains("internal thing"));
        assert_eq!(e.log_detail().as_deref(), Some("kv put failed: internal thing"));
    }

    #[test]
    fn an_erased_visitors_token_is_a_401_invalid_token() {
        let r = ApiError::Erased.to_response();
        assert_eq!(r.status, 401);
        assert!(r.header("www-authenticate").unwrap().contains(r#"error="invalid_token""#));
        assert_eq!(body(&r)["detail"], "this session was erased; start a new one");
    }

    #[test]
    fn bodies_get_413_415_and_422_by_what_is_wrong() {
        assert_eq!(ApiError::BodyTooLarge.to_response().status, 413);
        assert!(ApiError::BodyTooLarge.to_response().body.contains("8192 bytes"));
        assert_eq!(ApiError::Body(BodyError::NotJsonContentType).to_response().status, 415);
        assert_eq!(ApiError::Body(BodyError::Missing).to_response().status, 422);
        assert_eq!(ApiError::Page(PageError::BadLimit).to_response().status, 422);
    }

    #[test]
    fn method_not_allowed_carries_allow() {
        let r = ApiError::MethodNotAllowed { allow: "POST".into() }.to_response();
        assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
        assert_eq!(body(&r)["detail"], "Method Not Allowed");
    }

    #[test]
    fn misconfiguration_fails_closed_with_what_to_set() {
        let r = ApiError::Config(ConfigError::MissingSecret).to_response();
        assert_eq!(r.status, 500);
        assert!(body(&r)["detail"].as_str().unwrap().contains("JWT_SECRET"));
    }
}
