//! Minting and verifying the anonymous session token (a JWT signed with
//! HS256 or EdDSA, see [`crate::keys`]).
//!
//! A token's claims are the seed's: `sub` (the [`AnonId`]), `type`
//! (always `"anonymous"`), `iat` and `exp`, plus `iss` and `aud` when they
//! are configured. Its header carries `typ: "JWT"` and, when the signing
//! key has one, `kid`. Tokens minted by the seed's FastAPI backend with the
//! same secret verify here unchanged.
//!
//! `typ` is `JWT` rather than RFC 9068's `at+jwt`: these tokens are not
//! OAuth access tokens (no `client_id`, `jti` or `scope`, and `iss` and
//! `aud` are optional), so a validator that honours `at+jwt` would rightly
//! refuse them; `JWT` is also what the seed's tokens carry.
//!
//! Verification follows RFC 8725 (JWT best current practices):
//! - the key is the one the header's `kid` names in the configured set (a
//!   token without `kid` gets the seed's secret, if configured); an unknown
//!   `kid` is refused;
//! - the algorithm is the key's, from configuration, and compared exactly
//!   with the header's `alg`; `none`, `hs256`, `HS512` and every other value
//!   are refused (§3.1);
//! - a header with `crit` is refused, since we implement no extension
//!   (RFC 7515 §4.1.11); a `cty` other than JSON is refused, so nothing is
//!   ever decompressed or decoded as CBOR; a `typ` other than `JWT` is
//!   refused, so that a JWT of another kind is never taken for ours (§3.11);
//! - the token is capped at [`MAX_TOKEN_BYTES`] before it is decoded, and a
//!   token that does not have exactly three segments is refused before any
//!   base64 is decoded, so junk costs work in proportion to the cap at most;
//! - `exp` is required; `nbf` is honoured when present; both are compared on
//!   whole seconds with [`LEEWAY_SECONDS`] of clock skew, using saturating
//!   arithmetic so that extreme values cannot overflow;
//! - `type` must be `"anonymous"` and `sub` must be a canonical UUID, so a
//!   token can never name a KV key it was not minted for;
//! - when an issuer is configured, `iss` must equal it (RFC 7519 §4.1.1,
//!   RFC 8725 §3.9); when an audience is configured, `aud` must name it, and
//!   when none is, a token with an `aud` is refused (RFC 7519 §4.1.3,
//!   RFC 8725 §3.10), so that a token minted for one service is not
//!   accepted by another that shares its keys.
//!
//! A NumericDate may be fractional (RFC 7519 §2). A fractional `exp` or
//! `nbf` is truncated toward zero: `1.7e9` means 1700000000. Values outside
//! the range the date library holds (year ±262143) are malformed claims.
//! Strings, booleans, arrays and `null` are malformed claims too.

use std::fmt;

use chrono::{DateTime, Utc};
use jwt_compact::{Claims, Header, ParseError, UntrustedToken, ValidationError};
use serde::{
    Deserialize, Serialize,
    de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor},
};

use crate::{anon_id::AnonId, keys::KeySet};

/// The only value of the `type` claim we mint or accept.
pub const TOKEN_TYPE: &str = "anonymous";

/// Clock skew tolerated on `exp` and `nbf`: a token is refused from
/// `exp + 60 s` on, and accepted from `nbf - 60 s` on.
pub const LEEWAY_SECONDS: i64 = 60;

/// Longest token accepted. Ours are about 250 bytes; the cap bounds the
/// base64 and JSON work an unauthenticated request can cause.
pub const MAX_TOKEN_BYTES: usize = 2048;

/// The only `typ` header value we mint or accept (compared without regard
/// to case, as media types are).
pub const HEADER_TYPE: &str = "JWT";

/// How tokens are signed, and the `iss` and `aud` they carry and must carry.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The signing key and the keys that verify.
    pub keys: KeySet,
    /// `iss`: minted into every token and required when set.
    pub issuer: Option<String>,
    /// `aud`: minted into every token and required when set; when unset, a
    /// token carrying `aud` is refused.
    pub audience: Option<String>,
}

impl Policy {
    /// A policy with no `iss` or `aud`.
    #[must_use]
    pub fn new(keys: KeySet) -> Self {
        Self { keys, issuer: None, audience: None }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct AnonClaims {
    sub: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    aud: Option<Audience>,
}

/// Reads a field so that an explicit `null` counts as present: `"aud": null`
/// and `"crit": null` are claims the token makes, not absent ones, and must
/// be refused like any other value we cannot honour.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// RFC 7519 §4.1.3: `aud` is one string or an array of them. Any other
/// JSON is read as [`Audience::Malformed`] rather than failing the whole
/// claims set, so that the check can say what was wrong with it.
#[derive(Debug, PartialEq, Eq)]
enum Audience {
    Names(Vec<String>),
    Malformed,
}

impl Serialize for Audience {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Names(names) if names.len() == 1 => serializer.serialize_str(&names[0]),
            Self::Names(names) => names.serialize(serializer),
            Self::Malformed => serializer.serialize_unit(),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AudienceVisitor { element: false })
    }
}

/// Reads `aud`, or with `element` set, one element of an `aud` array, which
/// must be a string: a nested array is malformed.
#[derive(Clone, Copy)]
struct AudienceVisitor {
    element: bool,
}

impl<'de> DeserializeSeed<'de> for AudienceVisitor {
    type Value = Audience;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Audience, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AudienceVisitor {
    type Value = Audience;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, one: &str) -> Result<Audience, E> {
        Ok(Audience::Names(vec![one.to_owned()]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
        let mut names = Vec::new();
        let mut malformed = self.element;
        // Every element is read, so that the claims set parses to its end.
        let element = Self { element: true };
        while let Some(item) = seq.next_element_seed(element)? {
            match item {
                Audience::Names(mut one) if !malformed => names.append(&mut one),
                _ => malformed = true,
            }
        }
        Ok(if malformed { Audience::Malformed } else { Audience::Names(names) })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Audience, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Audience::Malformed)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Audience, E> {
        Ok(Audience::Malformed)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Audience, E> {
        Ok(Audience::Malformed)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Audience, E> {
        Ok(Audience::Malformed)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Audience, E> {
        Ok(Audience::Malformed)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Audience, E> {
        Ok(Audience::Malformed)
    }
}

/// Whether `aud` names `audience`; `None` when it is neither a string nor
/// an array of strings.
fn names(aud: &Audience, audience: &str) -> Option<bool> {
    match aud {
        Audience::Names(names) => Some(names.iter().any(|one| one == audience)),
        Audience::Malformed => None,
    }
}

/// Header fields we must look at but jwt-compact does not model.
#[derive(Debug, Clone, Default, Deserialize)]
struct HeaderExtras {
    /// Only its presence matters: we implement no extension.
    #[serde(default, deserialize_with = "present")]
    crit: Option<IgnoredAny>,
}

/// A token whose signature, type, subject and lifetime have been checked.
/// It is the only way a request is tied to a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The visitor the token was minted for.
    pub anon_id: AnonId,
    /// The token's `exp`, in Unix seconds.
    pub expires_at: i64,
}

/// A freshly minted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedToken {
    /// The compact JWT.
    pub token: String,
    /// Its `exp`, in Unix seconds.
    pub expires_at: i64,
}

/// Why a token was refused. The `Display` text is safe to send to the client:
/// it never quotes the token or any part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    TooLong,
    /// Not three base64url segments with a JSON header.
    Malformed,
    /// The header's `alg` is not exactly the key's algorithm.
    WrongAlgorithm,
    /// The header carries `crit`, a non-JSON `cty`, or a `typ` other than
    /// `JWT`.
    UnsupportedHeader,
    /// The header's `kid` names no configured key.
    UnknownKey,
    /// The header has no `kid`, and no key without one is configured.
    MissingKeyId,
    /// The signature does not match.
    BadSignature,
    /// A claim has the wrong JSON type or an impossible value.
    MalformedClaims,
    /// There is no `exp`.
    MissingExpiry,
    /// `exp` plus the leeway has passed.
    Expired,
    /// `nbf` minus the leeway is still ahead.
    NotYetValid,
    /// `type` is not `"anonymous"`.
    WrongType,
    /// `sub` is not a canonical UUID.
    BadSubject,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not name the configured audience, or is present when no
    /// audience is configured.
    WrongAudience,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLong => "token is too long",
            Self::Malformed => "token is not a well-formed JWT",
            Self::WrongAlgorithm => "token algorithm is not accepted",
            Self::UnsupportedHeader => "token header uses an unsupported feature",
            Self::UnknownKey => "token key id is not known",
            Self::MissingKeyId => "token has no key id",
            Self::BadSignature => "token signature is invalid",
            Self::MalformedClaims => "token claims are malformed",
            Self::MissingExpiry => "token has no expiry",
            Self::Expired => "token has expired",
            Self::NotYetValid => "token is not valid yet",
            Self::WrongType => "token is not an anonymous session token",
            Self::BadSubject => "token subject is not an anonymous id",
            Self::WrongIssuer => "token issuer is not accepted",
            Self::WrongAudience => "token audience is not accepted",
        })
    }
}

impl std::error::Error for TokenError {}

/// Minting failed; this cannot happen with a valid configuration, but it is
/// reported rather than unwrapped because a panic would poison the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintError(String);

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not mint a token: {}", self.0)
    }
}

impl std::error::Error for MintError {}

/// Signs a token for `anon_id` with the policy's signing key, issued at
/// `now` and valid for `ttl_seconds`.
///
/// # Errors
///
/// [`MintError`] if the timestamps cannot be represented or serialisation
/// fails; neither happens within [`crate::config`]'s bounds.
pub fn mint(
    policy: &Policy,
    anon_id: AnonId,
    now: i64,
    ttl_seconds: u64,
) -> Result<MintedToken, MintError> {
    let ttl = i64::try_from(ttl_seconds).map_err(|e| MintError(e.to_string()))?;
    let expires_at = now.checked_add(ttl).ok_or_else(|| MintError("exp overflows".into()))?;

    let mut claims = Claims::new(AnonClaims {
        sub: anon_id.to_string(),
        kind: TOKEN_TYPE.to_owned(),
        iss: policy.issuer.clone(),
        aud: policy.audience.clone().map(|one| Audience::Names(vec![one])),
    });
    claims.issued_at = Some(timestamp(now)?);
    claims.expiration = Some(timestamp(expires_at)?);

    let key = policy.keys.signing();
    let mut header = Header::empty().with_token_type(HEADER_TYPE);
    if let Some(kid) = key.kid() {
        header = header.with_key_id(kid);
    }
    let token = key.sign(&header, &claims).map_err(|e| MintError(e.to_string()))?;
    Ok(MintedToken { token, expires_at })
}

fn timestamp(secs: i64) -> Result<DateTime<Utc>, MintError> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| MintError(format!("{secs} out of range")))
}

/// Checks `token` against the policy's keys, issuer and audience at time
/// `now` (Unix seconds).
///
/// # Errors
///
/// The first [`TokenError`] found, in the order: size, structure, header,
/// key, algorithm and signature, claims.
pub fn verify(policy: &Policy, token: &str, now: i64) -> Result<VerifiedToken, TokenError> {
    verify_with_grace(policy, token, now, 0)
}

/// [`verify`], but a token that expired less than `grace_seconds` (plus the
/// leeway) ago still passes: what `POST /anon/refresh` accepts. Every other
/// rule is the same.
///
/// # Errors
///
/// As [`verify`].
pub fn verify_with_grace(
    policy: &Policy,
    token: &str,
    now: i64,
    grace_seconds: i64,
) -> Result<VerifiedToken, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong);
    }
    // jwt-compact splits on at most four segments, but it decodes the first
    // three before it sees a fourth; counting the dots first keeps a
    // five-segment JWE from being decoded at all.
    if token.bytes().filter(|&b| b == b'.').count() != 2 {
        return Err(TokenError::Malformed);
    }

    let untrusted = UntrustedToken::<HeaderExtras>::try_from(token).map_err(|e| match e {
        ParseError::UnsupportedContentType(_) => TokenError::UnsupportedHeader,
        _ => TokenError::Malformed,
    })?;
    let header = untrusted.header();
    if header.other_fields.crit.is_some() {
        return Err(TokenError::UnsupportedHeader);
    }
    if header.token_type.as_ref().is_some_and(|typ| !typ.eq_ignore_ascii_case(HEADER_TYPE)) {
        return Err(TokenError::UnsupportedHeader);
    }

    let kid = header.key_id.as_deref();
    let key = policy.keys.find(kid).ok_or(match kid {
        Some(_) => TokenError::UnknownKey,
        None => TokenError::MissingKeyId,
    })?;
    let verified = key.validate::<AnonClaims, _>(&untrusted).map_err(|e| match e {
        ValidationError::AlgorithmMismatch { .. } => TokenError::WrongAlgorithm,
        ValidationError::MalformedClaims(_) => TokenError::MalformedClaims,
        _ => TokenError::BadSignature,
    })?;
    let claims = verified.claims();

    let expires_at = claims.expiration.ok_or(TokenError::MissingExpiry)?.timestamp();
    if now >= expires_at.saturating_add(LEEWAY_SECONDS).saturating_add(grace_seconds) {
        return Err(TokenError::Expired);
    }
    if let Some(not_before) = claims.not_before
        && now < not_before.timestamp().saturating_sub(LEEWAY_SECONDS)
    {
        return Err(TokenError::NotYetValid);
    }
    if claims.custom.kind != TOKEN_TYPE {
        return Err(TokenError::WrongType);
    }
    if let Some(issuer) = &policy.issuer
        && claims.custom.iss.as_ref() != Some(issuer)
    {
        return Err(TokenError::WrongIssuer);
    }
    let audience_ok = match (&policy.audience, &claims.custom.aud) {
        (Some(ours), Some(theirs)) => names(theirs, ours).ok_or(TokenError::MalformedClaims)?,
        (Some(_), None) | (None, Some(_)) => false,
        (None, None) => true,
    };
    if !audience_ok {
        return Err(TokenError::WrongAudience);
    }
    let anon_id = AnonId::parse(&claims.custom.sub).ok_or(TokenError::BadSubject)?;

    Ok(VerifiedToken { anon_id, expires_at })
}

#[cfg(test)]
mod tests;
