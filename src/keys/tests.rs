//! Keys by `kid`, EdDSA against RFC 8037's vectors, rotation, and the
//! `iss` and `aud` rules, all against a fixed clock. The seed's HS256 rules
//! are tested in `src/token/tests.rs`.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use jwt_compact::{Algorithm as _, jwk::JsonWebKey};
use sha2::Sha256;

use super::*;
use crate::{
    anon_id::AnonId,
    token::{self, Policy, TokenError, VerifiedToken},
};

/// RFC 8037 Appendix A.1: the Ed25519 private key's `d` (its seed)...
const RFC_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
/// ...and A.2: its public key `x`.
const RFC_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// A.3: the RFC 7638 thumbprint of that public key.
const RFC_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
/// A.4: `{"alg":"EdDSA"}` over the payload "Example of Ed25519 signing".
const RFC_SIGNING_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
const RFC_SIGNATURE: &str =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

const SECRET: &[u8] = b"seed-compat-known-answer-secret-0123456789";
const ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
/// A fixed "now": 2026-11-15T08:26:40Z.
const NOW: i64 = 1_795_220_000;
const ISSUER: &str = "https://anon.example.com";
const AUDIENCE: &str = "https://api.example.com";

/// Our mint for ID at NOW, 7 days, with the RFC 8037 key as `kid`
/// "rfc8037", ISSUER and AUDIENCE. Checked when it was made against Node's
/// own Ed25519: `crypto.verify` accepts it with RFC_X, and `crypto.sign`
/// with RFC_D gives the same signature.
const OUR_EDDSA_TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6InJmYzgwMzciLCJ0eXAiOiJKV1QifQ.\
    eyJleHAiOjE3OTU4MjQ4MDAsImlhdCI6MTc5NTIyMDAwMCwic3ViIjoiM2YyNTA0ZTAtNGY4OS00MWQz\
    LTlhMGMtMDMwNWU4MmMzMzAxIiwidHlwZSI6ImFub255bW91cyIsImlzcyI6Imh0dHBzOi8vYW5vbi5l\
    eGFtcGxlLmNvbSIsImF1ZCI6Imh0dHBzOi8vYXBpLmV4YW1wbGUuY29tIn0.\
    UQ5YEOhfZoPAvNfCWa-ree3mRXIKIkXu29oA45aCsaCh0CeQayDUW7mQVjTbbCB9Bdh3hXdzOdfCT9vHZ3hzCA";

fn id() -> AnonId {
    AnonId::parse(ID).expect("canonical id")
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn seed(text: &str) -> [u8; 32] {
    let bytes = Base64UrlUnpadded::decode_vec(text).expect("base64url");
    bytes.try_into().expect("32 bytes")
}

fn rfc_key(kid: &str) -> Key {
    Key::ed25519(kid.to_owned(), seed(RFC_D))
}

fn other_key(kid: &str) -> Key {
    Key::ed25519(kid.to_owned(), [7; 32])
}

fn pair(key: &Key) -> &KeyPair {
    match &key.material {
        Material::Ed25519(pair) => pair,
        Material::Hs256(..) => panic!("not an Ed25519 key"),
    }
}

/// EdDSA with the RFC key signing, ISSUER and AUDIENCE.
fn eddsa_policy() -> Policy {
    Policy {
        keys: KeySet::new(rfc_key("rfc8037"), []),
        issuer: Some(ISSUER.to_owned()),
        audience: Some(AUDIENCE.to_owned()),
    }
}

/// Signs any header and claims with `key`, whatever the header says.
fn forge_eddsa(key: &Key, header: &str, claims: &str) -> String {
    let signed = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let signature = pair(key).sk.sign(signed.as_bytes(), None);
    format!("{signed}.{}", b64(signature.as_ref()))
}

fn forge_hs256(secret: &[u8], header: &str, claims: &str) -> String {
    let signed = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(signed.as_bytes());
    format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
}

fn claims_with(extra: &str) -> String {
    format!(r#"{{"sub":"{ID}","type":"anonymous","exp":1900000000{extra}}}"#)
}

const EDDSA_HEADER: &str = r#"{"alg":"EdDSA","kid":"rfc8037","typ":"JWT"}"#;
const PARTIES: &str = r#","iss":"https://anon.example.com","aud":"https://api.example.com""#;

fn expected() -> Result<VerifiedToken, TokenError> {
    Ok(VerifiedToken { anon_id: id(), expires_at: 1_900_000_000 })
}

#[test]
fn rfc_8037_a1_a2_the_public_key_is_derived_from_the_seed() {
    let key = rfc_key("rfc8037");
    assert_eq!(b64(pair(&key).pk.as_ref()), RFC_X);
}

#[test]
fn rfc_8037_a3_the_public_key_has_the_rfc_thumbprint() {
    let key = rfc_key("rfc8037");
    let thumbprint = JsonWebKey::from(&pair(&key).pk).thumbprint::<Sha256>();
    assert_eq!(b64(&thumbprint), RFC_THUMBPRINT);
}

#[test]
fn rfc_8037_a4_signing_is_deterministic_and_gives_the_rfc_signature() {
    let key = rfc_key("rfc8037");
    let signature = ByKey(Algorithm::EdDsa).sign(&key.material, RFC_SIGNING_INPUT.as_bytes());
    assert_eq!(b64(&signature.0), RFC_SIGNATURE);
}

#[test]
fn rfc_8037_a5_the_rfc_signature_verifies_and_no_altered_one_does() {
    let key = rfc_key("rfc8037");
    let alg = ByKey(Algorithm::EdDsa);
    let mut bytes = Base64UrlUnpadded::decode_vec(RFC_SIGNATURE).expect("signature");
    let message = RFC_SIGNING_INPUT.as_bytes();
    let good = RawSignature(bytes.clone());
    assert!(alg.verify_signature(&good, &key.material, message));
    assert!(!alg.verify_signature(&good, &key.material, b"Example of Ed25519 signinG"));
    let short = RawSignature(bytes[..63].to_vec());
    assert!(!alg.verify_signature(&short, &key.material, message));

    for i in 0..bytes.len() {
        bytes[i] ^= 0x01;
        let bad = RawSignature(bytes.clone());
        assert!(!alg.verify_signature(&bad, &key.material, message), "byte {i}");
        bytes[i] ^= 0x01;
    }
}

#[test]
fn an_eddsa_mint_matches_the_known_answer_and_verifies() {
    let policy = eddsa_policy();
    let minted = token::mint(&policy, id(), NOW, 7 * 24 * 3600).expect("mint");
    let expected: String = OUR_EDDSA_TOKEN.split_whitespace().collect();
    assert_eq!(minted.token, expected);

    let verified = token::verify(&policy, &minted.token, NOW).expect("verify");
    assert_eq!(verified, VerifiedToken { anon_id: id(), expires_at: NOW + 604_800 });
}

#[test]
fn every_tampered_part_of_an_eddsa_token_is_refused() {
    let policy = eddsa_policy();
    let minted = token::mint(&policy, id(), NOW, 3600).expect("mint").token;
    let parts: Vec<&str> = minted.split('.').collect();

    let other_claims = b64(claims_with(PARTIES).as_bytes());
    let swapped = format!("{}.{other_claims}.{}", parts[0], parts[2]);
    assert_eq!(token::verify(&policy, &swapped, NOW), Err(TokenError::BadSignature));

    let mut signature = Base64UrlUnpadded::decode_vec(parts[2]).expect("signature");
    for i in 0..signature.len() {
        signature[i] ^= 0x80;
        let tampered = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
        assert_eq!(token::verify(&policy, &tampered, NOW), Err(TokenError::BadSignature), "{i}");
        signature[i] ^= 0x80;
    }
}

#[test]
fn a_minted_token_names_its_signing_key_and_type_in_the_header() {
    let policy = Policy::new(KeySet::new(Key::hs256(Some("k2".into()), SECRET), []));
    let minted = token::mint(&policy, id(), NOW, 3600).expect("mint").token;
    let header = Base64UrlUnpadded::decode_vec(minted.split('.').next().expect("header"));
    assert_eq!(header.expect("base64"), br#"{"alg":"HS256","kid":"k2","typ":"JWT"}"#);
}

#[test]
fn any_listed_key_verifies_but_only_the_first_signs() {
    let old = other_key("old");
    let signed_by_old = forge_eddsa(&old, r#"{"alg":"EdDSA","kid":"old"}"#, &claims_with(""));
    let policy = Policy::new(KeySet::new(rfc_key("new"), [other_key("old")]));

    assert_eq!(token::verify(&policy, &signed_by_old, NOW), expected());
    let minted = token::mint(&policy, id(), NOW, 3600).expect("mint").token;
    assert!(minted.starts_with(&b64(br#"{"alg":"EdDSA","kid":"new","typ":"JWT"}"#)));
}

#[test]
fn a_rotation_keeps_every_live_token_until_its_key_is_removed() {
    let one = || other_key("one");
    let two = || rfc_key("two");
    let at = |keys: KeySet| Policy::new(keys);

    let before = at(KeySet::new(one(), []));
    let from_one = token::mint(&before, id(), NOW, 3600).expect("mint").token;

    // Step 1: "two" verifies only; "one" still signs.
    let listed = at(KeySet::new(one(), [two()]));
    assert!(token::verify(&listed, &from_one, NOW).is_ok());

    // Step 2: "two" signs; "one" verifies only. Both tokens are accepted.
    let switched = at(KeySet::new(two(), [one()]));
    let from_two = token::mint(&switched, id(), NOW, 3600).expect("mint").token;
    assert!(token::verify(&switched, &from_one, NOW).is_ok());
    assert!(token::verify(&switched, &from_two, NOW).is_ok());
    assert!(token::verify(&listed, &from_two, NOW).is_ok(), "isolates still at step 1");

    // Step 3: "one" is removed; its tokens are refused as unknown.
    let after = at(KeySet::new(two(), []));
    assert_eq!(token::verify(&after, &from_one, NOW), Err(TokenError::UnknownKey));
    assert!(token::verify(&after, &from_two, NOW).is_ok());
}

#[test]
fn an_unknown_kid_is_refused_even_when_a_key_without_kid_exists() {
    let policy = Policy::new(KeySet::new(rfc_key("live"), [Key::hs256(None, SECRET)]));
    let unknown =
        forge_eddsa(&rfc_key("gone"), r#"{"alg":"EdDSA","kid":"gone"}"#, &claims_with(""));
    assert_eq!(token::verify(&policy, &unknown, NOW), Err(TokenError::UnknownKey));
    let hs_unknown = forge_hs256(SECRET, r#"{"alg":"HS256","kid":"x"}"#, &claims_with(""));
    assert_eq!(token::verify(&policy, &hs_unknown, NOW), Err(TokenError::UnknownKey));
}

#[test]
fn a_token_without_kid_needs_the_seed_secret_to_be_configured() {
    let seed_token = forge_hs256(SECRET, r#"{"alg":"HS256","typ":"JWT"}"#, &claims_with(""));

    let without = Policy::new(KeySet::new(rfc_key("live"), []));
    assert_eq!(token::verify(&without, &seed_token, NOW), Err(TokenError::MissingKeyId));

    let with = Policy::new(KeySet::new(rfc_key("live"), [Key::hs256(None, SECRET)]));
    assert_eq!(token::verify(&with, &seed_token, NOW), expected());
}

#[test]
fn the_algorithm_is_the_keys_whatever_the_header_claims() {
    let policy = Policy::new(KeySet::new(rfc_key("ed"), [Key::hs256(None, SECRET)]));

    // The classic confusion: HS256 keyed with the Ed25519 public key.
    let x = Base64UrlUnpadded::decode_vec(RFC_X).expect("x");
    let confused = forge_hs256(&x, r#"{"alg":"HS256","kid":"ed"}"#, &claims_with(""));
    assert_eq!(token::verify(&policy, &confused, NOW), Err(TokenError::WrongAlgorithm));

    // An EdDSA token that claims the kid-less HS256 key.
    let key = rfc_key("ed");
    let no_kid = forge_eddsa(&key, r#"{"alg":"EdDSA"}"#, &claims_with(""));
    assert_eq!(token::verify(&policy, &no_kid, NOW), Err(TokenError::WrongAlgorithm));

    for alg in ["Ed25519", "eddsa", "ES256", "none", ""] {
        let header = format!(r#"{{"alg":"{alg}","kid":"ed"}}"#);
        let token = forge_eddsa(&key, &header, &claims_with(""));
        assert_eq!(token::verify(&policy, &token, NOW), Err(TokenError::WrongAlgorithm), "{alg}");
    }
}

#[test]
fn typ_must_be_jwt_when_present() {
    let policy = Policy::new(KeySet::new(rfc_key("ed"), []));
    let key = rfc_key("ed");
    for typ in ["JWT", "jwt"] {
        let header = format!(r#"{{"alg":"EdDSA","kid":"ed","typ":"{typ}"}}"#);
        let token = forge_eddsa(&key, &header, &claims_with(""));
        assert_eq!(token::verify(&policy, &token, NOW), expected(), "{typ}");
    }
    for typ in ["at+jwt", "dpop+jwt", "JWS", ""] {
        let header = format!(r#"{{"alg":"EdDSA","kid":"ed","typ":"{typ}"}}"#);
        let token = forge_eddsa(&key, &header, &claims_with(""));
        assert_eq!(
            token::verify(&policy, &token, NOW),
            Err(TokenError::UnsupportedHeader),
            "{typ}"
        );
    }
}

#[test]
fn the_issuer_must_be_exactly_the_configured_one() {
    let policy = eddsa_policy();
    let key = rfc_key("rfc8037");
    let aud = r#","aud":"https://api.example.com""#;
    for iss in [r#""https://anon.example.com/""#, r#""https://evil.example.com""#, r#""""#] {
        let token = forge_eddsa(&key, EDDSA_HEADER, &claims_with(&format!(r#","iss":{iss}{aud}"#)));
        assert_eq!(token::verify(&policy, &token, NOW), Err(TokenError::WrongIssuer), "{iss}");
    }
    let missing = forge_eddsa(&key, EDDSA_HEADER, &claims_with(aud));
    assert_eq!(token::verify(&policy, &missing, NOW), Err(TokenError::WrongIssuer));
    let numeric = forge_eddsa(&key, EDDSA_HEADER, &claims_with(&format!(r#","iss":7{aud}"#)));
    assert_eq!(token::verify(&policy, &numeric, NOW), Err(TokenError::MalformedClaims));
}

#[test]
fn the_audience_must_name_us_and_be_absent_when_none_is_configured() {
    let policy = eddsa_policy();
    let key = rfc_key("rfc8037");
    let iss = r#","iss":"https://anon.example.com""#;
    let with_aud = |aud: &str| {
        let claims = claims_with(&format!(r#"{iss},"aud":{aud}"#));
        token::verify(&policy, &forge_eddsa(&key, EDDSA_HEADER, &claims), NOW)
    };
    assert_eq!(with_aud(r#""https://api.example.com""#), expected());
    assert_eq!(with_aud(r#"["https://other.example.com","https://api.example.com"]"#), expected());
    for wrong in [r#""https://other.example.com""#, "[]", r#"["https://API.example.com"]"#] {
        assert_eq!(with_aud(wrong), Err(TokenError::WrongAudience), "{wrong}");
    }
    let nested = r#"[["https://api.example.com"]]"#;
    let mixed = r#"["https://api.example.com",7]"#;
    let object = r#"{"https://api.example.com":true}"#;
    for malformed in ["42", "true", "null", "1.5", nested, mixed, object] {
        assert_eq!(with_aud(malformed), Err(TokenError::MalformedClaims), "{malformed}");
    }
    let missing = forge_eddsa(&key, EDDSA_HEADER, &claims_with(iss));
    assert_eq!(token::verify(&policy, &missing, NOW), Err(TokenError::WrongAudience));

    let unscoped = Policy::new(KeySet::new(rfc_key("rfc8037"), []));
    let scoped = forge_eddsa(&key, EDDSA_HEADER, &claims_with(PARTIES));
    assert_eq!(token::verify(&unscoped, &scoped, NOW), Err(TokenError::WrongAudience));
}

#[test]
fn the_jwks_lists_public_ed25519_keys_only_signing_key_first() {
    let keys = KeySet::new(rfc_key("now"), [other_key("next"), Key::hs256(None, SECRET)]);
    let jwks: serde_json::Value = serde_json::from_str(&keys.jwks()).expect("JSON");
    let listed = jwks["keys"].as_array().expect("keys");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[0],
        serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": RFC_X, "kid": "now", "alg": "EdDSA", "use": "sig",
        })
    );
    assert_eq!(listed[1]["kid"], "next");
    assert!(!keys.jwks().contains(RFC_D));

    assert_eq!(KeySet::seed(SECRET).jwks(), r#"{"keys":[]}"#);
}

#[test]
fn debug_output_shows_kids_and_algorithms_but_no_key_material() {
    let keys = KeySet::new(rfc_key("ed"), [Key::hs256(None, SECRET)]);
    let shown = format!("{keys:?}");
    assert!(shown.contains(r#"kid: Some("ed"), alg: "EdDSA""#), "{shown}");
    assert!(shown.contains("<42 bytes>"), "{shown}");
    assert!(!shown.contains(&String::from_utf8_lossy(SECRET).into_owned()));
    let seed_bytes = format!("{:?}", seed(RFC_D));
    assert!(!shown.contains(&seed_bytes[1..20]));
    assert!(!shown.contains(RFC_D));
}

#[test]
fn algorithms_are_named_exactly() {
    assert_eq!(Algorithm::from_name("HS256"), Some(Algorithm::Hs256));
    assert_eq!(Algorithm::from_name("EdDSA"), Some(Algorithm::EdDsa));
    for name in ["hs256", "eddsa", "Ed25519", "ES256", "none", ""] {
        assert_eq!(Algorithm::from_name(name), None, "{name}");
    }
}
