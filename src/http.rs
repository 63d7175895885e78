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
    /// The body, read only where [`Request::wants_body`] says so.
    pub body: Option<&'a str>,
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
            body: None,
        }
    }

    /// Whether this is a CORS preflight, whose extra header the glue reads.
    #[must_use]
    pub fn is_options(&self) -> bool {
        self.method == "OPTIONS"
    }

    /// Whether the handlers may read the body (a Turnstile token for a
    /// mint); other bodies are never read.
    #[must_use]
    pub fn wants_body(&self) -> bool {
        self.method == "POST" && self.path == "/anon/login"
    }
}

/// Bodies longer than this are not read (a Turnstile token is about 2 KB).
pub const MAX_BODY_BYTES: usize = 8192;

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
}
