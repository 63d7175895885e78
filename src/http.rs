//! The request and response as plain data, so that everything between the
//! worker's entry point and KV can be tested on the host.

use serde::Serialize;

/// What the handlers need of a request. Borrowed from the platform's request
/// so that nothing is copied that is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method, as sent (`GET`, `POST`…).
    pub method: &'a str,
    /// The path, not percent-decoded.
    pub path: &'a str,
    /// The query string without `?`; empty when there is none.
    pub query: &'a str,
    /// The `Authorization` header, if sent.
    pub authorization: Option<&'a str>,
    /// The `Origin` header, if sent.
    pub origin: Option<&'a str>,
    /// `Access-Control-Request-Method`, read only on `OPTIONS`.
    pub preflight_method: Option<&'a str>,
    /// `CF-Connecting-IP`, read only where a rate limit is keyed on it.
    pub client_ip: Option<&'a str>,
    /// `CF-Turnstile-Response`, read only on `POST /anon/login`.
    pub turnstile: Option<&'a str>,
    /// `Content-Type`, read only where the body is.
    pub content_type: Option<&'a str>,
    /// The body, as far as the edge read it.
    pub body: Body<'a>,
}

/// What the edge made of a request's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Body<'a> {
    /// Not read: the route takes none, or sent none.
    #[default]
    Unread,
    /// Read whole, as UTF-8 text.
    Text(&'a str),
    /// Over [`MAX_BODY_BYTES`], declared or found while reading; it was not
    /// buffered.
    TooLarge,
    /// Read, but not UTF-8.
    NotUtf8,
}

impl<'a> Body<'a> {
    /// The text, when there is one.
    #[must_use]
    pub fn text(self) -> Option<&'a str> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }
}

impl<'a> Request<'a> {
    /// Splits an absolute URL (as the platform gives it) into path and query.
    #[must_use]
    pub fn from_url(method: &'a str, url: &'a str, authorization: Option<&'a str>) -> Self {
        let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
        let target = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        let target = target.split_once('#').map_or(target, |(t, _)| t);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method,
            path,
            query,
            authorization,
            origin: None,
            preflight_method: None,
            client_ip: None,
            turnstile: None,
            content_type: None,
            body: Body::Unread,
        }
    }

    /// Whether this is a CORS preflight, whose extra header the glue reads.
    #[must_use]
    pub fn is_options(&self) -> bool {
        self.method == "OPTIONS"
    }

    /// Whether the handlers read the body: a structured action's, and a
    /// mint's when it carries a Turnstile token. Other bodies are never read.
    #[must_use]
    pub fn wants_body(&self, turnstile_on: bool) -> bool {
        self.method == "POST"
            && (self.path == "/v1/actions" || (turnstile_on && self.path == "/anon/login"))
    }
}

/// Largest body any route accepts; larger ones get 413 unread. A
/// structured action is at most 900 bytes of JSON and a Turnstile token
/// about 2 KB, so this leaves room for whitespace and escapes.
pub const MAX_BODY_BYTES: usize = 8192;

/// Whether a declared `Content-Length` is over [`MAX_BODY_BYTES`],
/// including one too large to parse. A value that is not a number is left
/// to the runtime, which refuses it.
#[must_use]
pub fn declared_too_large(content_length: Option<&str>) -> bool {
    content_length.map(str::trim).is_some_and(|l| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_digit())
            && l.parse::<u64>().map_or(true, |l| l > MAX_BODY_BYTES as u64)
    })
}

/// A response ready to hand to the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Headers besides `Content-Type`, which is JSON whenever there is a body.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: String,
}

impl Response {
    /// A JSON response. Every response of this API is JSON and none may be
    /// cached: most carry a token or a visitor's data (RFC 6749 §5.1).
    #[must_use]
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        // Serialising these plain structs cannot fail; the fallback keeps a
        // broken invariant from becoming a panic.
        let body = serde_json::to_string(body)
            .unwrap_or_else(|_| r#"{"detail":"response could not be encoded"}"#.to_owned());
        Self { status, headers: vec![("cache-control", "no-store".to_owned())], body }
    }

    /// A response with no body, such as 204.
    #[must_use]
    pub fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: String::new() }
    }

    /// A response whose body is already JSON text.
    #[must_use]
    pub fn json_text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("cache-control", "no-store".to_owned())],
            body: body.to_owned(),
        }
    }

    /// Lets shared caches keep this response for `max_age` seconds, in
    /// place of `no-store`. Only for responses that are the same for
    /// everyone and hold no secret.
    #[must_use]
    pub fn cacheable(mut self, max_age: u32) -> Self {
        self.headers.retain(|(name, _)| *name != "cache-control");
        self.with_header("cache-control", format!("public, max-age={max_age}"))
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The value of a header, for tests and logs.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_path_and_query() {
        let r = Request::from_url("GET", "http://127.0.0.1:8787/items/x?action=a&b=c#frag", None);
        assert_eq!((r.path, r.query), ("/items/x", "action=a&b=c"));
        let r = Request::from_url("GET", "https://example.com", None);
        assert_eq!((r.path, r.query), ("/", ""));
        let r = Request::from_url("GET", "https://example.com/?", None);
        assert_eq!((r.path, r.query), ("/", ""));
        let r = Request::from_url("GET", "https://example.com/a?b?c", None);
        assert_eq!((r.path, r.query), ("/a", "b?c"));
    }

    #[test]
    fn a_declared_length_over_the_cap_is_too_large_however_it_is_written() {
        assert!(!declared_too_large(None));
        assert!(!declared_too_large(Some("8192")));
        assert!(declared_too_large(Some("8193")));
        assert!(declared_too_large(Some(" 100000 ")));
        assert!(declared_too_large(Some("99999999999999999999999999")));
        assert!(!declared_too_large(Some("")));
        assert!(!declared_too_large(Some("-1")));
    }

    #[test]
    fn only_the_routes_that_need_a_body_read_one() {
        let post = |path| Request::from_url("POST", path, None);
        assert!(post("http://h/v1/actions").wants_body(false));
        assert!(!post("http://h/anon/login").wants_body(false));
        assert!(post("http://h/anon/login").wants_body(true));
        assert!(!post("http://h/items/add_action").wants_body(true));
        assert!(!Request::from_url("GET", "http://h/v1/actions", None).wants_body(true));
    }
}
