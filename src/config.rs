//! Configuration, read once from the worker's bindings and checked against
//! the platform's limits before any request is served.
//!
//! The worker fails closed: when the signing secret is missing or too short,
//! every route that would mint or accept a token answers 500 with the
//! [`ConfigError`] message, which names the binding to set. No request ever
//! sees the secret's value, and neither does the log.

use std::fmt;

use crate::cors::{BadOrigin, CorsPolicy};

/// The name of the binding that holds the HS256 signing secret.
pub const SECRET_BINDING: &str = "JWT_SECRET";

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

/// Token lifetime; defaults to 7 days, like the seed.
pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 7 * 24 * 3600;

/// How long a visitor's data outlives their last write; defaults to 30 days.
pub const DEFAULT_DATA_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// Upper bound for either lifetime: ten years keeps every timestamp we
/// compute far from overflow and from chrono's representable range.
pub const MAX_TTL_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// The worker's settings.
///
/// `Debug` is written by hand so that the secret never reaches a log line.
#[derive(Clone)]
pub struct Config {
    secret: Vec<u8>,
    /// `TOKEN_TTL_SECONDS`: lifetime of a minted token; defaults to 7 days.
    pub token_ttl_seconds: u64,
    /// `DATA_TTL_SECONDS`: expiration of every KV key after its last write;
    /// defaults to 30 days, at least 60 seconds (KV's minimum).
    pub data_ttl_seconds: u64,
    turnstile_secret: Option<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .field("token_ttl_seconds", &self.token_ttl_seconds)
            .field("data_ttl_seconds", &self.data_ttl_seconds)
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
            Self::ShortSecret { len } => write!(
                f,
                "server misconfigured: {SECRET_BINDING} is {len} bytes long; it must be at \
                 least {MIN_SECRET_BYTES}"
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
        let secret = lookup(SECRET_BINDING).unwrap_or_default().into_bytes();
        if secret.is_empty() {
            return Err(ConfigError::MissingSecret);
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::ShortSecret { len: secret.len() });
        }

        let token_ttl_seconds =
            seconds(&lookup, "TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL_SECONDS, 1)?;
        let data_ttl_seconds =
            seconds(&lookup, "DATA_TTL_SECONDS", DEFAULT_DATA_TTL_SECONDS, KV_MIN_TTL_SECONDS)?;

        // Parsed again by the edge for CORS; refusing a bad list here makes
        // the mistake visible instead of silently allowing nothing.
        cors_policy(&lookup).map_err(ConfigError::BadOrigins)?;
        let turnstile_secret = lookup(TURNSTILE_BINDING).filter(|s| !s.trim().is_empty());

        Ok(Self { secret, token_ttl_seconds, data_ttl_seconds, turnstile_secret })
    }

    /// The Turnstile secret, when minting requires a Turnstile token.
    #[must_use]
    pub fn turnstile_secret(&self) -> Option<&str> {
        self.turnstile_secret.as_deref()
    }

    /// The HS256 key bytes.
    #[must_use]
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
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
        assert_eq!(config.secret(), SECRET.as_bytes());
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

    #[test]
    fn debug_output_hides_the_secret() {
        let config = with(&[(SECRET_BINDING, SECRET)]).expect("valid");
        let shown = format!("{config:?}");
        assert!(!shown.contains(SECRET));
        assert!(shown.contains("<32 bytes>"));
    }
}
