//! Cross-origin access for single-page apps on other origins (Fetch
//! standard, "CORS protocol").
//!
//! Origins are allowed by an exact list from `ALLOWED_ORIGINS`, each entry
//! `scheme://host[:port]`, or `scheme://*.domain[:port]` for any subdomain of
//! `domain` (not `domain` itself). Nothing is allowed by default.
//!
//! - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   never needs a token. From an allowed origin it gets 204 with the allowed
//!   methods, `authorization` and `content-type` named explicitly (the
//!   Fetch standard's `*` does not cover `Authorization`), and a max age;
//!   from any other origin, 403 with no CORS headers.
//! - Every other response to an allowed origin, errors included, carries
//!   `Access-Control-Allow-Origin` so the SPA can read a 401's body, and
//!   exposes the headers a client needs (`Retry-After`, `WWW-Authenticate`,
//!   `X-Request-Id`).
//! - Credentials mode is never enabled: tokens travel in `Authorization`,
//!   not cookies.
//! - Every response carries `Vary: Origin`, because whether it has CORS
//!   headers depends on the request's `Origin`.
//!
//! Known shortcoming: a preflight from an allowed origin is granted for any
//! path and any requested method; the real request then gets its 404 or 405.
//! That grants nothing a page could not already try, but it is looser than
//! it needs to be.

use std::fmt;

use crate::http::Response;

/// Methods the API answers.
pub const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";

/// Request headers a page may send: these two must be named explicitly.
pub const ALLOW_HEADERS: &str = "authorization, content-type, cf-turnstile-response";

/// Response headers a page may read besides the CORS-safelisted ones.
pub const EXPOSE_HEADERS: &str = "retry-after, www-authenticate, x-request-id";

/// How long a browser may cache a preflight: two hours, the most Chromium
/// honours.
pub const MAX_AGE_SECONDS: u32 = 7200;

/// The configured origins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    exact: Vec<String>,
    /// `(scheme "://", ".domain[:port]")` pairs from wildcard entries.
    subdomains: Vec<(String, String)>,
}

/// An `ALLOWED_ORIGINS` entry that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadOrigin(pub String);

impl fmt::Display for BadOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server misconfigured: ALLOWED_ORIGINS entry `{}` is not an origin; use \
             scheme://host[:port] or scheme://*.domain, separated by commas or spaces",
            self.0
        )
    }
}

impl std::error::Error for BadOrigin {}

impl CorsPolicy {
    /// Parses a comma- or space-separated list of origins.
    ///
    /// # Errors
    ///
    /// [`BadOrigin`] for an entry with a path, a query, no scheme, a bare
    /// `*`, or a wildcard anywhere but the first label.
    pub fn parse(list: &str) -> Result<Self, BadOrigin> {
        let mut policy = Self::default();
        for entry in list.split([',', ' ', '\t', '\n']).filter(|e| !e.is_empty()) {
            let bad = || BadOrigin(entry.to_owned());
            let (scheme, authority) = entry.split_once("://").ok_or_else(bad)?;
            let scheme_ok = matches!(scheme, "http" | "https");
            let authority_ok = !authority.is_empty()
                && authority.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:*[]".contains(&b));
            if !scheme_ok || !authority_ok {
                return Err(bad());
            }
            let authority = authority.to_ascii_lowercase();
            match authority.strip_prefix('*') {
                Some(rest) if rest.starts_with('.') && rest.len() > 1 && !rest.contains('*') => {
                    policy.subdomains.push((format!("{scheme}://"), rest.to_owned()));
                }
                Some(_) => return Err(bad()),
                None if authority.contains('*') => return Err(bad()),
                None => policy.exact.push(format!("{scheme}://{authority}")),
            }
        }
        Ok(policy)
    }

    /// Whether `origin` (as a browser sends it) is allowed.
    #[must_use]
    pub fn allows(&self, origin: &str) -> bool {
        if self.exact.iter().any(|o| o == origin) {
            return true;
        }
        self.subdomains.iter().any(|(scheme, suffix)| {
            origin.strip_prefix(scheme.as_str()).is_some_and(|host| {
                host.len() > suffix.len()
                    && host.ends_with(suffix.as_str())
                    && is_label_run(&host[..host.len() - suffix.len()])
            })
        })
    }

    /// The answer to a preflight from `origin`; `None` when the origin is
    /// not allowed, which the caller answers with a 403.
    #[must_use]
    pub fn preflight(&self, origin: &str) -> Option<Response> {
        if !self.allows(origin) {
            return None;
        }
        let mut response = Response::empty(204);
        response.headers.extend([
            ("access-control-allow-origin", origin.to_owned()),
            ("access-control-allow-methods", ALLOW_METHODS.to_owned()),
            ("access-control-allow-headers", ALLOW_HEADERS.to_owned()),
            ("access-control-max-age", MAX_AGE_SECONDS.to_string()),
            ("vary", "Origin".to_owned()),
        ]);
        Some(response)
    }

    /// Adds the CORS headers for `origin`, if it is allowed, to a response.
    pub fn decorate(&self, origin: Option<&str>, response: &mut Response) {
        response.headers.push(("vary", "Origin".to_owned()));
        if let Some(origin) = origin.filter(|o| self.allows(o)) {
            response.headers.push(("access-control-allow-origin", origin.to_owned()));
            response.headers.push(("access-control-expose-headers", EXPOSE_HEADERS.to_owned()));
        }
    }
}

/// The host part before a wildcard's suffix: one or more DNS labels.
fn is_label_run(labels: &str) -> bool {
    labels
        .split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CorsPolicy {
        CorsPolicy::parse(
            "https://app.example.com, http://localhost:5173 https://*.preview.example.com",
        )
        .expect("valid")
    }

    #[test]
    fn exact_origins_are_allowed_and_nothing_else() {
        let p = policy();
        assert!(p.allows("https://app.example.com"));
        assert!(p.allows("http://localhost:5173"));
        for origin in [
            "https://app.example.com.evil.com",
            "http://app.example.com",
            "https://app.example.com:8443",
            "http://localhost:5174",
            "null",
            "",
        ] {
            assert!(!p.allows(origin), "{origin}");
        }
    }

    #[test]
    fn a_wildcard_allows_subdomains_but_not_the_domain_or_lookalikes() {
        let p = policy();
        assert!(p.allows("https://pr-42.preview.example.com"));
        assert!(p.allows("https://a.b.preview.example.com"));
        for origin in [
            "https://preview.example.com",
            "https://evilpreview.example.com",
            "http://pr-42.preview.example.com",
            "https://.preview.example.com",
            "https://x_y.preview.example.com",
            "https://pr-42.preview.example.com:444",
        ] {
            assert!(!p.allows(origin), "{origin}");
        }
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let p = CorsPolicy::parse("").expect("empty is valid");
        assert!(!p.allows("http://localhost:5173"));
    }

    #[test]
    fn malformed_entries_are_refused_at_configuration() {
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/",
            "https://*",
            "ftp://x",
            "https://a.*.example.com",
            "https://*example.com",
            "https://app.example.com/path",
        ] {
            assert_eq!(CorsPolicy::parse(bad), Err(BadOrigin(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_names_authorization_explicitly() {
        let r = policy().preflight("http://localhost:5173").expect("allowed");
        assert_eq!(r.status, 204);
        assert_eq!(r.header("access-control-allow-origin"), Some("http://localhost:5173"));
        assert!(r.header("access-control-allow-headers").unwrap().contains("authorization"));
        assert!(r.header("access-control-allow-headers").unwrap().contains("content-type"));
        assert_eq!(r.header("access-control-max-age"), Some("7200"));
        assert_eq!(r.header("vary"), Some("Origin"));
        assert_eq!(r.header("access-control-allow-credentials"), None);
    }

    #[test]
    fn a_preflight_from_another_origin_is_refused() {
        assert_eq!(policy().preflight("https://evil.example.net"), None);
    }

    #[test]
    fn responses_to_allowed_origins_carry_allow_origin_and_exposed_headers() {
        let mut r = Response::json(401, &());
        policy().decorate(Some("https://app.example.com"), &mut r);
        assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
        assert!(r.header("access-control-expose-headers").unwrap().contains("retry-after"));

        let mut r = Response::json(200, &());
        policy().decorate(Some("https://evil.example.net"), &mut r);
        assert_eq!(r.header("access-control-allow-origin"), None);
        assert_eq!(r.header("vary"), Some("Origin"));
    }
}
