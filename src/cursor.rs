//! The `cursor` of `GET /v1/actions`: KV's own list cursor, sealed so that
//! a client can hand it back but not make one up.
//!
//! KV's cursors are opaque, and KV's answer to one it did not issue is an
//! error we could not tell from an outage. So the cursor we hand out is
//! `<kv cursor, base64url>.<tag, base64url>`, where the tag is a truncated
//! HMAC-SHA256 over the visitor's id and KV's cursor, under a key derived
//! from the signing key ([`crate::keys::KeySet::derive_secret`]). A cursor
//! that is malformed, altered, or issued to another visitor is refused with
//! a 422 before any KV operation.
//!
//! Known shortcoming: a cursor is sealed with the signing key of the moment,
//! so rotating the signing key invalidates the cursors clients hold; they get
//! a 422 and start again from the first page.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::anon_id::AnonId;

/// Bytes of the HMAC kept in the tag: 128 bits.
const TAG_BYTES: usize = 16;

/// Longest KV cursor we seal; KV's are far shorter. It also caps the work a
/// forged cursor can cause.
pub const MAX_KV_CURSOR_BYTES: usize = 1024;

/// The label the cursor key is derived under.
pub const KEY_LABEL: &[u8] = b"anon-sessions/v1/actions-cursor";

/// Why a cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadCursor;

impl fmt::Display for BadCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "query parameter `cursor` is not one this worker issued to this visitor; \
             start again from the first page",
        )
    }
}

impl std::error::Error for BadCursor {}

/// Seals KV's `kv_cursor` for `id`.
#[must_use]
pub fn seal(key: &[u8; 32], id: AnonId, kv_cursor: &str) -> String {
    let tag = tag(key, id, kv_cursor.as_bytes());
    format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(kv_cursor.as_bytes()),
        Base64UrlUnpadded::encode_string(&tag)
    )
}

/// KV's cursor inside `sealed`, if `sealed` is one [`seal`] made for `id`.
///
/// # Errors
///
/// [`BadCursor`] for anything else.
pub fn open(key: &[u8; 32], id: AnonId, sealed: &str) -> Result<String, BadCursor> {
    // Base64 is 4/3 of the bytes, plus the dot and the tag.
    if sealed.len() > MAX_KV_CURSOR_BYTES * 4 / 3 + 32 {
        return Err(BadCursor);
    }
    let (body, tag_text) = sealed.split_once('.').ok_or(BadCursor)?;
    let kv_cursor = Base64UrlUnpadded::decode_vec(body).map_err(|_| BadCursor)?;
    let claimed = Base64UrlUnpadded::decode_vec(tag_text).map_err(|_| BadCursor)?;

    if claimed.len() != TAG_BYTES || kv_cursor.is_empty() {
        return Err(BadCursor);
    }
    // Compared in constant time, so the tag cannot be guessed byte by byte.
    keyed(key, id, &kv_cursor).verify_truncated_left(&claimed).map_err(|_| BadCursor)?;
    String::from_utf8(kv_cursor).map_err(|_| BadCursor)
}

fn tag(key: &[u8; 32], id: AnonId, kv_cursor: &[u8]) -> [u8; TAG_BYTES] {
    let full = keyed(key, id, kv_cursor).finalize().into_bytes();
    let mut tag = [0; TAG_BYTES];
    tag.copy_from_slice(&full[..TAG_BYTES]);
    tag
}

fn keyed(key: &[u8; 32], id: AnonId, kv_cursor: &[u8]) -> Hmac<Sha256> {
    let mut mac = crate::keys::hmac_sha256(key);
    // The id has a fixed length, so id and cursor cannot be re-split.
    mac.update(id.to_string().as_bytes());
    mac.update(kv_cursor);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn id(last: char) -> AnonId {
        AnonId::parse(&format!("3f2504e0-4f89-41d3-9a0c-0305e82c330{last}")).expect("id")
    }

    #[test]
    fn a_sealed_cursor_opens_for_its_visitor() {
        let sealed = seal(&KEY, id('1'), "a:some/kv+cursor==");
        assert!(sealed.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        assert_eq!(open(&KEY, id('1'), &sealed).as_deref(), Ok("a:some/kv+cursor=="));
    }

    #[test]
    fn another_visitor_or_another_key_cannot_open_it() {
        let sealed = seal(&KEY, id('1'), "cursor");
        assert_eq!(open(&KEY, id('2'), &sealed), Err(BadCursor));
        assert_eq!(open(&[8; 32], id('1'), &sealed), Err(BadCursor));
    }

    #[test]
    fn altered_truncated_and_made_up_cursors_are_refused() {
        let sealed = seal(&KEY, id('1'), "cursor");
        let (body, tag) = sealed.split_once('.').expect("dot");
        let other_body = Base64UrlUnpadded::encode_string(b"cursos");
        for bad in [
            String::new(),
            ".".to_owned(),
            body.to_owned(),
            format!("{other_body}.{tag}"),
            format!("{body}.{}", &tag[..tag.len() - 2]),
            format!("{body}."),
            format!(".{tag}"),
            format!("{body}.{tag}x"),
            format!("{body}.{tag}.{tag}"),
            "%%%.%%%".to_owned(),
            "a".repeat(100_000),
        ] {
            assert_eq!(open(&KEY, id('1'), &bad), Err(BadCursor), "{bad:.40}");
        }
    }
}
