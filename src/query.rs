//! Query-string parameters, decoded as `application/x-www-form-urlencoded`
//! the way FastAPI and the browser's `URLSearchParams` decode them: `+` is a
//! space, `%2B` a plus sign, and names are decoded too (`%61ction` is
//! `action`). A parameter that matters may be given once only, so that two
//! parsers (a cache, a proxy, this worker) can never disagree on which copy
//! counts.

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// Why a parameter could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamError {
    /// Given more than once.
    Repeated,
    /// Its percent-decoded bytes are not UTF-8.
    NotUtf8,
}

/// The raw (still encoded) value of the single parameter `name`, if given.
/// A parameter without `=` has the empty value.
///
/// # Errors
///
/// [`ParamError::Repeated`] when `name` appears more than once.
pub fn raw<'a>(query: &'a str, name: &str) -> Result<Option<&'a str>, ParamError> {
    let mut found = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key).ok().as_deref() != Some(name) {
            continue;
        }
        if found.is_some() {
            return Err(ParamError::Repeated);
        }
        found = Some(value);
    }
    Ok(found)
}

/// Decodes a raw value.
///
/// # Errors
///
/// [`ParamError::NotUtf8`] when the decoded bytes are not UTF-8.
pub fn decode(raw: &str) -> Result<Cow<'_, str>, ParamError> {
    let spaced: Cow<'_, str> =
        if raw.contains('+') { Cow::Owned(raw.replace('+', " ")) } else { Cow::Borrowed(raw) };
    let decoded = match percent_decode(spaced.as_bytes()).decode_utf8() {
        Ok(Cow::Borrowed(_)) => return Ok(spaced),
        Ok(Cow::Owned(text)) => text,
        Err(_) => return Err(ParamError::NotUtf8),
    };
    Ok(Cow::Owned(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_found_by_its_decoded_name() {
        assert_eq!(raw("a=1&limit=20&b=2", "limit"), Ok(Some("20")));
        assert_eq!(raw("%6Cimit=5", "limit"), Ok(Some("5")));
        assert_eq!(raw("limit", "limit"), Ok(Some("")));
        assert_eq!(raw("", "limit"), Ok(None));
        assert_eq!(raw("&&", "limit"), Ok(None));
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        assert_eq!(raw("limit=1&limit=2", "limit"), Err(ParamError::Repeated));
        assert_eq!(raw("limit=1&%6Cimit=1", "limit"), Err(ParamError::Repeated));
    }

    #[test]
    fn values_decode_as_forms_do() {
        assert_eq!(decode("a+b").as_deref(), Ok("a b"));
        assert_eq!(decode("a%2Bb").as_deref(), Ok("a+b"));
        assert_eq!(decode("caf%C3%A9").as_deref(), Ok("café"));
        assert_eq!(decode("100%").as_deref(), Ok("100%"));
        assert_eq!(decode("%FF"), Err(ParamError::NotUtf8));
    }
}
