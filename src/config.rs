//! Configuration, read once from the worker's bindings and checked against
//! the platform's limits before any request is served.
//!
//! The worker fails closed: when a signing key is missing or unusable,
//! every route that would mint or accept a token answers 500 with the
//! [`ConfigError`] message, which names the binding to set. No request ever
//! sees a key's value, and neither does the log.
//!
//! Keys (see [`crate::keys`]) come from secrets only. `JWT_KIDS`, a
//! `[vars]` entry, lists key ids, the signing key first; each key is the
//! secret `JWT_KEY_<kid>`, of the algorithm `JWT_ALGORITHM` names. The
//! seed's `JWT_SECRET` is an HS256 key without `kid`: it signs when
//! `JWT_KIDS` is empty, and otherwise only verifies tokens without `kid`.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::{
    cors::{BadOrigin, CorsPolicy},
    keys::{Algorithm, Key, KeySet},
    retention::Retention,
    token::Policy,
};

/// The name of the binding that holds the seed's HS256 signing secret.
pub const SECRET_BINDING: &str = "JWT_SECRET";

/// The `[vars]` entry naming the algorithm of the `JWT_KEY_<kid>` keys:
/// `HS256` (the default) or `EdDSA`.
pub const ALGORITHM_BINDING: &str = "JWT_ALGORITHM";

/// The `[vars]` entry listing key ids, separated by commas or spaces; the
/// first signs and all verify. Empty by default: `JWT_SECRET` signs.
pub const KIDS_BINDING: &str = "JWT_KIDS";

/// Each listed key is the secret named this prefix and its `kid`.
pub const KEY_BINDING_PREFIX: &str = "JWT_KEY_";

/// The `[vars]` entry setting `iss`; unset by default (not checked).
pub const ISSUER_BINDING: &str = "JWT_ISSUER";

/// The `[vars]` entry setting `aud`; unset by default (tokens with `aud`
/// are then refused).
pub const AUDIENCE_BINDING: &str = "JWT_AUDIENCE";

/// Longest `kid`; ids are letters, digits and `_`, so that each names a
/// secret binding.
pub const MAX_KID_CHARS: usize = 32;

/// The optional Turnstile secret; when set, minting needs a Turnstile token.
pub const TURNSTILE_BINDING: &str = "TURNSTILE_SECRET";

/// The list of origins allowed to call the API from a browser.
pub const ORIGINS_BINDING: &str = "ALLOWED_ORIGINS";

/// The name of the Workers KV namespace binding.
pub const KV_BINDING: &str = "ANON_KV";

/// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
pub const MIN_SECRET_BYTES: usize = 32;

/// Workers KV refuses an `expirationTtl` below 60 seconds.
pub const KV_MIN_TTL_SECONDS: u64 = 60;

/// How long an expired token may still be refreshed; defaults to 7 days.
pub const DEFAULT_REFRESH_GRACE_SECONDS: u64 = 7 * 24 * 3600;

/// Token lifetime; defaults to 7 days, like the seed.
pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 7 * 24 * 3600;

/// How long a visitor's data outlives their last activity; defaults to 30 days.
pub const DEFAULT_DATA_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// Upper bound for either lifetime: ten years keeps every timestamp we
/// compute far from overflow and from chrono's representable range.
pub const MAX_TTL_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// The worker's settings.
///
/// `Debug` is written by hand so that no secret ever reaches a log line.
#[derive(Clone)]
pub struct Config {
    policy: Policy,
    /// `TOKEN_TTL_SECONDS`: lifetime of a minted token; defaults to 7 days.
    pub token_ttl_seconds: u64,
    /// `DATA_TTL_SECONDS`: how long a visitor's data outlives their last
    /// activity (at least this, at most 1.5 times it; see
    /// [`crate::retention`]); defaults to 30 days, at least 60 seconds
    /// (KV's minimum TTL).
    pub data_ttl_seconds: u64,
    /// `REFRESH_GRACE_SECONDS`: how long after its expiry a token may still
    /// be exchanged at `POST /anon/refresh`; defaults to 7 days, 0 to turn
    /// grace off.
    pub refresh_grace_seconds: u64,
    turnstile_secret: Option<String>,
    /// Seals list cursors; derived from the signing key.
    cursor_key: [u8; 32],
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("policy", &self.policy)
            .field("token_ttl_seconds", &self.token_ttl_seconds)
            .field("data_ttl_seconds", &self.data_ttl_seconds)
            .field("refresh_grace_seconds", &self.refresh_grace_seconds)
            .field("turnstile", &self.turnstile_secret.is_some())
            .finish()
    }
}

/// Why the configuration was refused. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The signing secret binding is absent or empty.
    MissingSecret,
    /// The signing secret is shorter than [`MIN_SECRET_BYTES`].
    ShortSecret {
        /// Its length in bytes (never its value).
        len: usize,
    },
    /// `JWT_ALGORITHM` is neither `HS256` nor `EdDSA`.
    BadAlgorithm,
    /// `JWT_ALGORITHM` is `EdDSA` and `JWT_KIDS` lists no key.
    MissingKeyIds,
    /// A `JWT_KIDS` entry is not a usable key id, or is listed twice.
    BadKeyId {
        /// The entry (an id, not key material).
        kid: String,
    },
    /// A listed key's secret `JWT_KEY_<kid>` is absent or empty.
    MissingKey {
        /// Its key id.
        kid: String,
    },
    /// A listed HS256 key is shorter than [`MIN_SECRET_BYTES`].
    ShortKey {
        /// Its key id.
        kid: String,
        /// Its length in bytes (never its value).
        len: usize,
    },
    /// A listed Ed25519 key is not 32 bytes of base64url.
    BadEd25519Key {
        /// Its key id.
        kid: String,
    },
    /// The KV namespace binding is absent.
    MissingKvBinding,
    /// `ALLOWED_ORIGINS` holds something that is not an origin.
    BadOrigins(BadOrigin),
    /// A numeric setting is not a whole number of seconds.
    NotANumber {
        /// The variable's name.
        name: &'static str,
    },
    /// A numeric setting is outside its allowed range.
    OutOfRange {
        /// The variable's name.
        name: &'static str,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSecret => write!(
                f,
                "server misconfigured: set the {SECRET_BINDING} secret (at least \
                 {MIN_SECRET_BYTES} random bytes) with `wrangler secret put {SECRET_BINDING}`, \
                 or in .dev.vars locally"
            ),
            // The length of a secret is not said: this text is also the
            // 500's body, and a secret's length is nobody's business.
            Self::ShortSecret { .. } => write!(
                f,
                "server misconfigured: {SECRET_BINDING} is shorter than {MIN_SECRET_BYTES} \
                 bytes; set a longer one with `wrangler secret put {SECRET_BINDING}`"
            ),
            Self::BadAlgorithm => write!(
                f,
                "server misconfigured: {ALGORITHM_BINDING} must be HS256 or EdDSA (or unset, \
                 for HS256)"
            ),
            Self::MissingKeyIds => write!(
                f,
                "server misconfigured: {ALGORITHM_BINDING} is EdDSA; list key ids in \
                 {KIDS_BINDING} and set each key with \
                 `wrangler secret put {KEY_BINDING_PREFIX}<kid>`"
            ),
            Self::BadKeyId { kid } => write!(
                f,
                "server misconfigured: {KIDS_BINDING} entry \"{kid}\" must be 1 to \
                 {MAX_KID_CHARS} letters, digits or _, and listed once"
            ),
            Self::MissingKey { kid } => write!(
                f,
                "server misconfigured: {KIDS_BINDING} lists {kid}; set its key with \
                 `wrangler secret put {KEY_BINDING_PREFIX}{kid}`, or in .dev.vars locally"
            ),
            Self::ShortKey { kid, .. } => write!(
                f,
                "server misconfigured: {KEY_BINDING_PREFIX}{kid} is shorter than \
                 {MIN_SECRET_BYTES} bytes, the least an HS256 key may be"
            ),
            Self::BadEd25519Key { kid } => write!(
                f,
                "server misconfigured: {KEY_BINDING_PREFIX}{kid} must be an Ed25519 private key: \
                 its 32-byte seed in base64url (a JWK's \"d\")"
            ),
            Self::MissingKvBinding => write!(
                f,
                "server misconfigured: bind a Workers KV namespace as {KV_BINDING} in wrangler.toml"
            ),
            Self::BadOrigins(e) => e.fmt(f),
            Self::NotANumber { name } => {
                write!(f, "server misconfigured: {name} must be a whole number of seconds")
            }
            Self::OutOfRange { name, min, max } => {
                write!(f, "server misconfigured: {name} must be between {min} and {max} seconds")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the configuration through `lookup`, which returns a binding's
    /// string value (a secret or a `[vars]` entry) or `None` when unset.
    ///
    /// # Errors
    ///
    /// Any [`ConfigError`]: the worker then refuses to mint or verify.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let policy = Policy {
            keys: key_set(&lookup)?,
            issuer: non_empty(&lookup, ISSUER_BINDING),
            audience: non_empty(&lookup, AUDIENCE_BINDING),
        };

        let token_ttl_seconds =
            seconds(&lookup, "TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL_SECONDS, 1)?;
        let data_ttl_seconds =
            seconds(&lookup, "DATA_TTL_SECONDS", DEFAULT_DATA_TTL_SECONDS, KV_MIN_TTL_SECONDS)?;
        let refresh_grace_seconds =
            seconds(&lookup, "REFRESH_GRACE_SECONDS", DEFAULT_REFRESH_GRACE_SECONDS, 0)?;

        // Parsed again by the edge for CORS; refusing a bad list here makes
        // the mistake visible instead of silently allowing nothing.
        cors_policy(&lookup).map_err(ConfigError::BadOrigins)?;
        let turnstile_secret = lookup(TURNSTILE_BINDING).filter(|s| !s.trim().is_empty());

        let cursor_key = policy.keys.derive_secret(crate::cursor::KEY_LABEL);
        Ok(Self {
            policy,
            token_ttl_seconds,
            data_ttl_seconds,
            refresh_grace_seconds,
            turnstile_secret,
            cursor_key,
        })
    }

    /// The expiration rules for the visitor's data.
    #[must_use]
    pub fn retention(&self) -> Retention {
        Retention::new(self.data_ttl_seconds)
    }

    /// How long an erased visitor's tombstone must live: until every token
    /// minted for them before the erase is past its refresh grace, and so
    /// refused on its own. Computed from the lifetimes configured at the
    /// time of the erase.
    #[must_use]
    pub fn tombstone_ttl_seconds(&self) -> u64 {
        let leeway = crate::token::LEEWAY_SECONDS.unsigned_abs();
        self.token_ttl_seconds + self.refresh_grace_seconds + 2 * leeway
    }

    /// The key that seals list cursors ([`crate::cursor`]).
    #[must_use]
    pub fn cursor_key(&self) -> &[u8; 32] {
        &self.cursor_key
    }

    /// The Turnstile secret, when minting requires a Turnstile token.
    #[must_use]
    pub fn turnstile_secret(&self) -> Option<&str> {
        self.turnstile_secret.as_deref()
    }

    /// The signing and verifying keys, and the `iss` and `aud` to mint and
    /// require.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// The keys: those `JWT_KIDS` lists, in order, then `JWT_SECRET` without a
/// `kid`. The first signs.
fn key_set(lookup: &impl Fn(&str) -> Option<String>) -> Result<KeySet, ConfigError> {
    let algorithm = match non_empty(lookup, ALGORITHM_BINDING) {
        None => Algorithm::Hs256,
        Some(name) => Algorithm::from_name(&name).ok_or(ConfigError::BadAlgorithm)?,
    };

    let kids = lookup(KIDS_BINDING).unwrap_or_default();
    let mut keys = Vec::new();
    for kid in kids.split([',', ' ']).filter(|kid| !kid.is_empty()) {
        let usable = kid.len() <= MAX_KID_CHARS
            && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !keys.iter().any(|key: &Key| key.kid() == Some(kid));
        if !usable {
            return Err(ConfigError::BadKeyId { kid: kid.to_owned() });
        }
        keys.push(named_key(lookup, algorithm, kid)?);
    }

    // The seed's secret may verify in EdDSA mode, but never sign in it.
    if algorithm == Algorithm::EdDsa && keys.is_empty() {
        return Err(ConfigError::MissingKeyIds);
    }

    let legacy = lookup(SECRET_BINDING).unwrap_or_default().into_bytes();
    if !legacy.is_empty() && legacy.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::ShortSecret { len: legacy.len() });
    }
    let legacy = (!legacy.is_empty()).then(|| Key::hs256(None, &legacy));

    let mut keys = keys.into_iter().chain(legacy);
    let signing = keys.next().ok_or(ConfigError::MissingSecret)?;
    Ok(KeySet::new(signing, keys))
}

fn named_key(
    lookup: &impl Fn(&str) -> Option<String>,
    algorithm: Algorithm,
    kid: &str,
) -> Result<Key, ConfigError> {
    let text = lookup(&format!("{KEY_BINDING_PREFIX}{kid}")).unwrap_or_default();
    if text.is_empty() {
        return Err(ConfigError::MissingKey { kid: kid.to_owned() });
    }
    match algorithm {
        Algorithm::Hs256 if text.len() < MIN_SECRET_BYTES => {
            Err(ConfigError::ShortKey { kid: kid.to_owned(), len: text.len() })
        }
        Algorithm::Hs256 => Ok(Key::hs256(Some(kid.to_owned()), text.as_bytes())),
        Algorithm::EdDsa => {
            // Decoding errors are not kept: they could quote the key.
            let seed = Base64UrlUnpadded::decode_vec(text.trim())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| ConfigError::BadEd25519Key { kid: kid.to_owned() })?;
            Ok(Key::ed25519(kid.to_owned(), seed))
        }
    }
}

fn non_empty(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// The CORS policy from `ALLOWED_ORIGINS` (empty when unset). Read on its
/// own, so that CORS headers still reach the browser when the rest of the
/// configuration is refused and the SPA must read a 500.
///
/// # Errors
///
/// [`BadOrigin`] for an entry that is not an origin.
pub fn cors_policy(lookup: &impl Fn(&str) -> Option<String>) -> Result<CorsPolicy, BadOrigin> {
    CorsPolicy::parse(&lookup(ORIGINS_BINDING).unwrap_or_default())
}

fn seconds(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    min: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = lookup(name) else {
        return Ok(default);
    };
    let value: u64 = raw.trim().parse().map_err(|_| ConfigError::NotANumber { name })?;
    if !(min..=MAX_TTL_SECONDS).contains(&value) {
        return Err(ConfigError::OutOfRange { name, min, max: MAX_TTL_SECONDS });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_apply_when_only_the_secret_is_set() {
        let config = with(&[(SECRET_BINDING, SECRET)]).expect("valid");
        assert_eq!(config.token_ttl_seconds, 604_800);
        assert_eq!(config.data_ttl_seconds, 2_592_000);
        assert_eq!(config.refresh_grace_seconds, 604_800);
        let keys = &config.policy().keys;
        assert_eq!(keys.signing().kid(), None);
        assert_eq!(keys.signing().algorithm(), Algorithm::Hs256);
    }

    #[test]
    fn a_missing_or_empty_secret_is_refused() {
        assert_eq!(with(&[]).unwrap_err(), ConfigError::MissingSecret);
        assert_eq!(with(&[(SECRET_BINDING, "")]).unwrap_err(), ConfigError::MissingSecret);
    }

    #[test]
    fn a_short_secret_is_refused_without_echoing_it() {
        let err = with(&[(SECRET_BINDING, "short-secret")]).unwrap_err();
        assert_eq!(err, ConfigError::ShortSecret { len: 12 });
        assert!(!err.to_string().contains("short-secret"));
        assert!(err.to_string().contains("JWT_SECRET"));
    }

    #[test]
    fn data_ttl_below_the_kv_minimum_is_refused() {
        let err = with(&[(SECRET_BINDING, SECRET), ("DATA_TTL_SECONDS", "59")]).unwrap_err();
        assert!(matches!(err, ConfigError::OutOfRange { name: "DATA_TTL_SECONDS", min: 60, .. }));
        let ok = with(&[(SECRET_BINDING, SECRET), ("DATA_TTL_SECONDS", "60")]).expect("valid");
        assert_eq!(ok.data_ttl_seconds, 60);
    }

    #[test]
    fn numbers_must_be_whole_and_bounded() {
        for bad in ["7d", "-1", "1.5", ""] {
            let err = with(&[(SECRET_BINDING, SECRET), ("TOKEN_TTL_SECONDS", bad)]).unwrap_err();
            assert_eq!(err, ConfigError::NotANumber { name: "TOKEN_TTL_SECONDS" }, "{bad}");
        }
        let err = with(&[(SECRET_BINDING, SECRET), ("TOKEN_TTL_SECONDS", "0")]).unwrap_err();
        assert!(matches!(err, ConfigError::OutOfRange { .. }));
        let huge = (MAX_TTL_SECONDS + 1).to_string();
        let err = with(&[(SECRET_BINDING, SECRET), ("TOKEN_TTL_SECONDS", &huge)]).unwrap_err();
        assert!(matches!(err, ConfigError::OutOfRange { .. }));
    }

    #[test]
    fn a_bad_origin_list_is_refused_and_turnstile_is_optional() {
        let err = with(&[(SECRET_BINDING, SECRET), (ORIGINS_BINDING, "*")]).unwrap_err();
        assert!(matches!(err, ConfigError::BadOrigins(_)));
        let plain = with(&[(SECRET_BINDING, SECRET)]).expect("valid");
        assert_eq!(plain.turnstile_secret(), None);
        let guarded = with(&[(SECRET_BINDING, SECRET), (TURNSTILE_BINDING, "0x4AAA")]).expect("ok");
        assert_eq!(guarded.turnstile_secret(), Some("0x4AAA"));
        assert!(!format!("{guarded:?}").contains("0x4AAA"));
    }

    /// A development Ed25519 seed (base64url of 32 bytes of 7).
    const SEED: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";

    #[test]
    fn eddsa_keys_are_listed_by_kid_the_first_signing() {
        let config = with(&[
            (ALGORITHM_BINDING, "EdDSA"),
            (KIDS_BINDING, "k2, k1"),
            ("JWT_KEY_k1", SEED),
            ("JWT_KEY_k2", SEED),
            (ISSUER_BINDING, " https://anon.example.com "),
            (AUDIENCE_BINDING, ""),
        ])
        .expect("valid");
        let policy = config.policy();
        assert_eq!(policy.keys.signing().kid(), Some("k2"));
        assert_eq!(policy.keys.signing().algorithm(), Algorithm::EdDsa);
        assert!(policy.keys.find(Some("k1")).is_some());
        assert!(policy.keys.find(None).is_none(), "no JWT_SECRET, so no key without kid");
        assert_eq!(policy.issuer.as_deref(), Some("https://anon.example.com"));
        assert_eq!(policy.audience, None, "empty means unset");
        assert!(!format!("{config:?}").contains(SEED));
    }

    #[test]
    fn with_kids_the_seed_secret_only_verifies_tokens_without_kid() {
        let config =
            with(&[(SECRET_BINDING, SECRET), (KIDS_BINDING, "hs1"), ("JWT_KEY_hs1", SECRET)])
                .expect("valid");
        let keys = &config.policy().keys;
        assert_eq!(keys.signing().kid(), Some("hs1"));
        assert_eq!(keys.signing().algorithm(), Algorithm::Hs256);
        assert_eq!(keys.find(None).map(Key::algorithm), Some(Algorithm::Hs256));
    }

    #[test]
    fn an_unknown_algorithm_or_eddsa_without_keys_is_refused() {
        for alg in ["hs256", "ES256", "none", "RS256"] {
            let err = with(&[(SECRET_BINDING, SECRET), (ALGORITHM_BINDING, alg)]).unwrap_err();
            assert_eq!(err, ConfigError::BadAlgorithm, "{alg}");
        }
        let err = with(&[(SECRET_BINDING, SECRET), (ALGORITHM_BINDING, "EdDSA")]).unwrap_err();
        assert_eq!(err, ConfigError::MissingKeyIds);
        assert!(err.to_string().contains("JWT_KIDS"));
        assert!(err.to_string().contains("wrangler secret put JWT_KEY_<kid>"));
    }

    #[test]
    fn kids_must_name_secrets_and_be_listed_once() {
        for kids in ["a-b", "a.b", "ä", "a a", &"k".repeat(33)] {
            let pairs = [(SECRET_BINDING, SECRET), (KIDS_BINDING, kids), ("JWT_KEY_a", SECRET)];
            let err = with(&pairs).unwrap_err();
            assert!(matches!(err, ConfigError::BadKeyId { .. }), "{kids}: {err:?}");
        }
    }

    #[test]
    fn a_listed_key_must_be_set_and_usable_and_is_never_echoed() {
        let err = with(&[(KIDS_BINDING, "k1")]).unwrap_err();
        assert_eq!(err, ConfigError::MissingKey { kid: "k1".into() });
        assert!(err.to_string().contains("wrangler secret put JWT_KEY_k1"));

        let err = with(&[(KIDS_BINDING, "k1"), ("JWT_KEY_k1", "short-secret")]).unwrap_err();
        assert_eq!(err, ConfigError::ShortKey { kid: "k1".into(), len: 12 });
        assert!(!err.to_string().contains("short-secret"));

        let eddsa = [(ALGORITHM_BINDING, "EdDSA"), (KIDS_BINDING, "k1")];
        for bad in ["c2hvcnQ", "not base64!", &format!("{SEED}AA"), SECRET] {
            let err = with(&[eddsa[0], eddsa[1], ("JWT_KEY_k1", bad)]).unwrap_err();
            assert_eq!(err, ConfigError::BadEd25519Key { kid: "k1".into() }, "{bad}");
            assert!(!err.to_string().contains(bad));
        }
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let config = with(&[(SECRET_BINDING, SECRET)]).expect("valid");
        let shown = format!("{config:?}");
        assert!(!shown.contains(SECRET));
        assert!(shown.contains("<32 bytes>"));
    }
}
