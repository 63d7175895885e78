//! Signing keys: the one that signs, the ones that verify, and the public
//! JWKS.
//!
//! A [`KeySet`] holds one signing key and any number of keys that only
//! verify, each named by a `kid`. A key is rotated in by listing it after
//! the signing key (verify-only, so that every isolate and every JWKS cache
//! knows it), then moving it first (signing); the old key is removed once
//! the last token it signed has expired. Nobody is logged out at any step.
//!
//! The algorithm belongs to the key and comes from configuration, never
//! from a token (RFC 8725 §3.1): an HS256 key verifies only `HS256`, an
//! Ed25519 key only `EdDSA`. The seed's `JWT_SECRET` is the one key without
//! a `kid`; tokens without a `kid` are checked against it when it is
//! configured, and refused otherwise.
//!
//! Both algorithms go through one jwt-compact [`Algorithm`](jwt_compact::Algorithm),
//! [`ByKey`], which hands each key to its own primitive: HMAC-SHA256 from
//! the `hmac` and `sha2` crates (what jwt-compact's own `Hs256` uses, here
//! with the key's HMAC state computed once per isolate rather than once per
//! token), or ed25519-compact (the backend of jwt-compact's `ed25519-compact`
//! feature), so that jwt-compact's generic token code is instantiated once.
//!
//! Ed25519 signatures are RFC 8032's deterministic ones: the same input
//! always gives the same token, so host tests can pin whole tokens and
//! RFC 8037's vectors, and minting needs no random source. jwt-compact's own
//! `Ed25519` adds random noise to each signature, a defence against fault
//! injection on signing hardware that a Worker does not face.

use std::{borrow::Cow, fmt};

use base64ct::{Base64UrlUnpadded, Encoding};
use ed25519_compact::{KeyPair, Seed, Signature};
use hmac::{Hmac, Mac};
use jwt_compact::{
    AlgorithmExt, AlgorithmSignature, Claims, CreationError, Header, Token, UntrustedToken,
    ValidationError, alg::Hs256Key,
};
use serde::{Serialize, de::DeserializeOwned};
use sha2::Sha256;

/// HMAC-SHA256 keyed with `key`, for tokens, derived secrets and cursors.
/// HMAC takes a key of any length (RFC 2104 §2), and the `hmac` crate's
/// `new_from_slice` never refuses one for a block hash; the fallback only
/// satisfies its signature, so that no request path can panic here.
pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()))
}

/// An algorithm a key can be configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256 (RFC 7518 §3.2): a shared secret, never published.
    Hs256,
    /// Ed25519 (RFC 8037): the public half is served as a JWKS.
    EdDsa,
}

impl Algorithm {
    /// The `alg` header value, which is also how configuration names it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named exactly `name` (`HS256` or `EdDSA`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Hs256, Self::EdDsa].into_iter().find(|alg| alg.name() == name)
    }
}

/// The algorithm of the key it is handed. Its `name` is what `alg` must be
/// exactly; jwt-compact compares it before any signature is checked.
#[derive(Debug, Clone, Copy)]
struct ByKey(Algorithm);

/// A signature of either algorithm. Its length is checked by the key that
/// verifies it, since the two differ.
struct RawSignature(Vec<u8>);

impl AlgorithmSignature for RawSignature {
    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        Ok(Self(slice.to_vec()))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0)
    }
}

impl jwt_compact::Algorithm for ByKey {
    type SigningKey = Material;
    type VerifyingKey = Material;
    type Signature = RawSignature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.0.name())
    }

    fn sign(&self, key: &Material, message: &[u8]) -> RawSignature {
        match key {
            Material::Hs256(_, mac) => {
                RawSignature(mac.clone().chain_update(message).finalize().into_bytes().to_vec())
            }
            // RFC 8032: no noise, so the signature is deterministic.
            Material::Ed25519(pair) => RawSignature(pair.sk.sign(message, None).to_vec()),
        }
    }

    fn verify_signature(&self, signature: &RawSignature, key: &Material, message: &[u8]) -> bool {
        match key {
            // `verify_slice` compares in constant time, and refuses a
            // signature of the wrong length.
            Material::Hs256(_, mac) => {
                mac.clone().chain_update(message).verify_slice(&signature.0).is_ok()
            }
            Material::Ed25519(pair) => Signature::from_slice(&signature.0)
                .is_ok_and(|signature| pair.pk.verify(message, &signature).is_ok()),
        }
    }
}

/// A key's secret material. An HS256 key keeps, beside the secret, HMAC's
/// state after absorbing it (RFC 2104's inner and outer padded keys): each
/// token then costs two SHA-256 blocks fewer, which is about a third of the
/// hashing a token needs.
#[derive(Clone)]
enum Material {
    Hs256(Hs256Key, Hmac<Sha256>),
    Ed25519(KeyPair),
}

/// One key and its `kid`. `Debug` shows the `kid`, the algorithm and the
/// length of a secret, never its bytes.
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    material: Material,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Key");
        out.field("kid", &self.kid).field("alg", &self.algorithm().name());
        if let Material::Hs256(key, _) = &self.material {
            out.field("secret", &format_args!("<{} bytes>", key.as_ref().len()));
        }
        out.finish()
    }
}

impl Key {
    /// An HS256 key. The caller checks its length (RFC 7518 §3.2).
    #[must_use]
    pub fn hs256(kid: Option<String>, secret: &[u8]) -> Self {
        Self { kid, material: Material::Hs256(Hs256Key::new(secret), hmac_sha256(secret)) }
    }

    /// An Ed25519 key from its 32-byte seed (the JWK's `d`, RFC 8037 §2).
    #[must_use]
    pub fn ed25519(kid: String, seed: [u8; Seed::BYTES]) -> Self {
        Self { kid: Some(kid), material: Material::Ed25519(KeyPair::from_seed(Seed::new(seed))) }
    }

    /// The key's `kid`; `None` only for the seed's `JWT_SECRET`.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The only algorithm this key signs and verifies with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        match self.material {
            Material::Hs256(..) => Algorithm::Hs256,
            Material::Ed25519(_) => Algorithm::EdDsa,
        }
    }

    /// Signs `claims` under `header`, with this key's algorithm in `alg`.
    pub(crate) fn sign<T: Serialize>(
        &self,
        header: &Header<impl Serialize>,
        claims: &Claims<T>,
    ) -> Result<String, CreationError> {
        ByKey(self.algorithm()).token(header, claims, &self.material)
    }

    /// Checks that `token`'s `alg` is exactly this key's algorithm and that
    /// its signature is this key's, then decodes its claims.
    pub(crate) fn validate<T: DeserializeOwned, H: Clone>(
        &self,
        token: &UntrustedToken<'_, H>,
    ) -> Result<Token<T, H>, ValidationError> {
        ByKey(self.algorithm()).validator(&self.material).validate(token)
    }

    /// The public JWK (RFC 8037 §2), for keys that have a public half.
    fn public_jwk(&self) -> Option<PublicJwk<'_>> {
        let (Material::Ed25519(pair), Some(kid)) = (&self.material, &self.kid) else {
            return None;
        };
        Some(PublicJwk {
            kty: "OKP",
            crv: "Ed25519",
            x: Base64UrlUnpadded::encode_string(pair.pk.as_ref()),
            kid,
            alg: "EdDSA",
            usage: "sig",
        })
    }
}

#[derive(Serialize)]
struct PublicJwk<'a> {
    kty: &'static str,
    crv: &'static str,
    x: String,
    kid: &'a str,
    alg: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
}

#[derive(Serialize)]
struct Jwks<'a> {
    keys: Vec<PublicJwk<'a>>,
}

/// The keys a worker signs and verifies with. Never empty: the first key
/// signs, and every key verifies.
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// A set in which `signing` signs and the `verifying` keys only verify.
    /// The caller makes sure no two keys share a `kid`.
    #[must_use]
    pub fn new(signing: Key, verifying: impl IntoIterator<Item = Key>) -> Self {
        Self { keys: std::iter::once(signing).chain(verifying).collect() }
    }

    /// The seed's configuration: one HS256 secret, no `kid`.
    #[must_use]
    pub fn seed(secret: &[u8]) -> Self {
        Self::new(Key::hs256(None, secret), [])
    }

    /// The key new tokens are signed with.
    #[must_use]
    pub fn signing(&self) -> &Key {
        &self.keys[0]
    }

    /// The key a token's `kid` names (`None`: the key without a `kid`).
    #[must_use]
    pub fn find(&self, kid: Option<&str>) -> Option<&Key> {
        self.keys.iter().find(|key| key.kid() == kid)
    }

    /// A 32-byte secret for `label`, derived from the signing key with
    /// HMAC-SHA256 (the extract step of RFC 5869), so that other things the
    /// worker must seal, such as list cursors, need no secret of their own.
    /// It changes when the signing key does.
    #[must_use]
    pub fn derive_secret(&self, label: &[u8]) -> [u8; 32] {
        let material: Cow<'_, [u8]> = match &self.signing().material {
            Material::Hs256(key, _) => Cow::Borrowed(key.as_ref()),
            Material::Ed25519(pair) => Cow::Owned(pair.sk.seed().to_vec()),
        };
        hmac_sha256(&material).chain_update(label).finalize().into_bytes().into()
    }

    /// The public keys as a JWK Set (RFC 7517 §5), signing key first. HS256
    /// keys are secret and never listed, so an HS256 worker's set is empty.
    #[must_use]
    pub fn jwks(&self) -> String {
        let keys = self.keys.iter().filter_map(Key::public_jwk).collect();
        // Serialising strings cannot fail; the fallback keeps a broken
        // invariant from becoming a panic.
        serde_json::to_string(&Jwks { keys }).unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
    }
}

#[cfg(test)]
mod tests;
