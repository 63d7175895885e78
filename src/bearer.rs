//! Extracting a bearer token from the `Authorization` header (RFC 6750 §2.1).
//!
//! ```text
//! credentials = "Bearer" 1*SP b64token
//! b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! The scheme is matched case-insensitively (RFC 9110 §11.1). Between the
//! scheme and the token we accept any run of spaces or tabs, and trailing
//! whitespace is ignored, since proxies and hand-written clients add both.
//! The header is capped at [`MAX_HEADER_BYTES`] before anything else is
//! looked at, so a huge header costs a length check and no more.

use std::fmt;

/// Longest `Authorization` header accepted. Our tokens are about 250 bytes;
/// 4 KiB leaves room for any future claim while keeping the work per request
/// small and bounded.
pub const MAX_HEADER_BYTES: usize = 4096;

/// Why no bearer token could be taken from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerError {
    /// No `Authorization` header was sent.
    Missing,
    /// The header uses another scheme, such as `Basic`.
    OtherScheme,
    /// The scheme is `Bearer` but no token follows it.
    EmptyToken,
    /// The token holds a character outside RFC 6750's `b64token`.
    InvalidCharacters,
    /// The header is longer than [`MAX_HEADER_BYTES`].
    TooLong,
}

impl BearerError {
    /// The RFC 6750 §3.1 error code for the challenge: none when the request
    /// carries no bearer credentials at all, `invalid_request` when the
    /// header names Bearer but holds no token, and `invalid_token` when what
    /// follows cannot be a token.
    #[must_use]
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::Missing | Self::OtherScheme => None,
            Self::EmptyToken => Some("invalid_request"),
            Self::InvalidCharacters | Self::TooLong => Some("invalid_token"),
        }
    }
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "missing Authorization header: send `Authorization: Bearer <token>`",
            Self::OtherScheme => "authorization scheme must be Bearer",
            Self::EmptyToken => "bearer token is empty",
            Self::InvalidCharacters => "bearer token contains characters a token cannot hold",
            Self::TooLong => "Authorization header is too long",
        })
    }
}

impl std::error::Error for BearerError {}

/// Returns the token from an `Authorization` header value.
///
/// # Errors
///
/// A [`BearerError`] saying what is wrong with the header.
pub fn token_from_header(header: Option<&str>) -> Result<&str, BearerError> {
    let header = header.ok_or(BearerError::Missing)?;
    if header.len() > MAX_HEADER_BYTES {
        return Err(BearerError::TooLong);
    }

    let header = header.trim_matches(is_ws);
    let scheme_end = header.find(is_ws).unwrap_or(header.len());
    let (scheme, rest) = header.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(if scheme.is_empty() {
            BearerError::Missing
        } else {
            BearerError::OtherScheme
        });
    }

    let token = rest.trim_start_matches(is_ws);
    if token.is_empty() {
        return Err(BearerError::EmptyToken);
    }
    if !is_b64token(token) {
        return Err(BearerError::InvalidCharacters);
    }
    Ok(token)
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

    #[test]
    fn the_scheme_is_case_insensitive() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let header = format!("{scheme} {TOKEN}");
            assert_eq!(token_from_header(Some(&header)), Ok(TOKEN), "{scheme}");
        }
    }

    #[test]
    fn several_spaces_or_tabs_may_separate_scheme_and_token() {
        for sep in ["  ", "\t", " \t ", "     "] {
            let header = format!("Bearer{sep}{TOKEN}");
            assert_eq!(token_from_header(Some(&header)), Ok(TOKEN), "{sep:?}");
        }
        assert_eq!(token_from_header(Some(&format!("Bearer {TOKEN} \t"))), Ok(TOKEN));
    }

    #[test]
    fn a_missing_header_is_not_an_invalid_request() {
        assert_eq!(token_from_header(None), Err(BearerError::Missing));
        assert_eq!(token_from_header(Some("")), Err(BearerError::Missing));
        assert_eq!(BearerError::Missing.error_code(), None);
    }

    #[test]
    fn another_scheme_is_refused() {
        assert_eq!(token_from_header(Some("Basic dXNlcjpwYXNz")), Err(BearerError::OtherScheme));
        assert_eq!(token_from_header(Some("Bearer-ish x")), Err(BearerError::OtherScheme));
        assert_eq!(token_from_header(Some(TOKEN)), Err(BearerError::OtherScheme));
        assert_eq!(BearerError::OtherScheme.error_code(), None);
    }

    #[test]
    fn bearer_without_a_token_is_an_invalid_request() {
        for header in ["Bearer", "Bearer ", "bearer \t  "] {
            assert_eq!(token_from_header(Some(header)), Err(BearerError::EmptyToken), "{header:?}");
        }
        assert_eq!(BearerError::EmptyToken.error_code(), Some("invalid_request"));
    }

    #[test]
    fn characters_outside_b64token_are_refused() {
        for token in ["a b", "a,b", "a\"b", "ä", "==", "a=b", "a\u{0}b"] {
            let header = format!("Bearer {token}");
            assert_eq!(
                token_from_header(Some(&header)),
                Err(BearerError::InvalidCharacters),
                "{token:?}"
            );
        }
        assert_eq!(token_from_header(Some("Bearer abc==")), Ok("abc=="));
    }

    #[test]
    fn an_oversized_header_is_refused_before_parsing() {
        let header = format!("Bearer {}", "a".repeat(MAX_HEADER_BYTES));
        assert_eq!(token_from_header(Some(&header)), Err(BearerError::TooLong));
    }
}
