//! The query of `GET /v1/actions`: `limit`, `cursor` and `order`.
//!
//! Pages run oldest first, the order KV lists keys in. `order=desc` is
//! refused rather than served: KV can only list forwards, so newest-first
//! would mean either listing the whole history for every page or writing
//! every action twice under a reversed key, and neither is cheap.

use std::{borrow::Cow, fmt};

use crate::query::{self, ParamError};

/// Actions per page when `limit` is not given.
pub const DEFAULT_PAGE_LIMIT: usize = 100;

/// Largest `limit`: one KV list page, which is also what the seed's
/// `previous_actions` holds.
pub const MAX_PAGE_LIMIT: usize = 1000;

/// A checked page query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery<'a> {
    /// Actions wanted, 1 to [`MAX_PAGE_LIMIT`].
    pub limit: usize,
    /// The sealed cursor from the previous page (see [`crate::cursor`]).
    pub cursor: Option<Cow<'a, str>>,
}

/// Why a page query was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageError {
    /// `limit` is not a whole number from 1 to [`MAX_PAGE_LIMIT`].
    BadLimit,
    /// `order` is not `asc`.
    BadOrder,
    /// `cursor` is empty, or not one this worker issued to this visitor.
    BadCursor,
    /// A parameter was given twice.
    Repeated(&'static str),
    /// A parameter is not valid UTF-8 once decoded.
    NotUtf8(&'static str),
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLimit => write!(
                f,
                "query parameter `limit` must be a whole number from 1 to {MAX_PAGE_LIMIT}"
            ),
            Self::BadOrder => f.write_str(
                "query parameter `order` must be `asc`: actions are listed oldest first only",
            ),
            Self::BadCursor => crate::cursor::BadCursor.fmt(f),
            Self::Repeated(name) => write!(f, "query parameter `{name}` must be given once"),
            Self::NotUtf8(name) => write!(f, "query parameter `{name}` is not valid UTF-8"),
        }
    }
}

impl std::error::Error for PageError {}

fn param<'a>(query: &'a str, name: &'static str) -> Result<Option<Cow<'a, str>>, PageError> {
    let raw = query::raw(query, name).map_err(|e| match e {
        ParamError::Repeated => PageError::Repeated(name),
        ParamError::NotUtf8 => PageError::NotUtf8(name),
    })?;
    raw.map(|raw| query::decode(raw).map_err(|_| PageError::NotUtf8(name))).transpose()
}

/// Reads `limit`, `cursor` and `order` from a raw query string; other
/// parameters are ignored.
///
/// # Errors
///
/// A [`PageError`] naming the parameter and its rule.
pub fn parse(query: &str) -> Result<PageQuery<'_>, PageError> {
    let limit = match param(query, "limit")? {
        None => DEFAULT_PAGE_LIMIT,
        // Digits only: no sign, no spaces, no exponent.
        Some(text)
            if !text.is_empty() && text.len() <= 4 && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            text.parse().map_err(|_| PageError::BadLimit)?
        }
        Some(_) => return Err(PageError::BadLimit),
    };
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(PageError::BadLimit);
    }
    if param(query, "order")?.is_some_and(|order| order != "asc") {
        return Err(PageError::BadOrder);
    }
    let cursor = param(query, "cursor")?;
    if cursor.as_deref() == Some("") {
        return Err(PageError::BadCursor);
    }
    Ok(PageQuery { limit, cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        assert_eq!(parse(""), Ok(PageQuery { limit: DEFAULT_PAGE_LIMIT, cursor: None }));
        assert_eq!(parse("other=1").map(|q| q.limit), Ok(DEFAULT_PAGE_LIMIT));
    }

    #[test]
    fn limit_and_cursor_are_read_and_decoded() {
        let q = parse("limit=25&cursor=abc.d-f_&order=asc").expect("valid");
        assert_eq!((q.limit, q.cursor.as_deref()), (25, Some("abc.d-f_")));
        assert_eq!(parse("limit=1").map(|q| q.limit), Ok(1));
        assert_eq!(parse("limit=1000").map(|q| q.limit), Ok(1000));
        assert_eq!(parse("limit=0010").map(|q| q.limit), Ok(10));
    }

    #[test]
    fn a_limit_out_of_range_or_not_a_whole_number_is_refused() {
        for bad in ["0", "1001", "-1", "+5", "1e2", "2.5", "", "ten", "99999999999999999999", " 5"]
        {
            assert_eq!(parse(&format!("limit={bad}")), Err(PageError::BadLimit), "{bad}");
        }
    }

    #[test]
    fn newest_first_is_refused_with_the_reason() {
        assert_eq!(parse("order=desc"), Err(PageError::BadOrder));
        assert!(PageError::BadOrder.to_string().contains("oldest first"));
    }

    #[test]
    fn repeated_empty_and_undecodable_parameters_are_refused() {
        assert_eq!(parse("limit=1&limit=2"), Err(PageError::Repeated("limit")));
        assert_eq!(parse("cursor="), Err(PageError::BadCursor));
        assert_eq!(parse("cursor=%FF"), Err(PageError::NotUtf8("cursor")));
    }
}
