//! Token rules, each rejection path, and known-answer vectors, all against
//! a fixed clock.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;

const SECRET: &[u8] = b"seed-compat-known-answer-secret-0123456789";
const ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
/// A fixed "now": 2026-11-15T08:26:40Z.
const NOW: i64 = 1_795_220_000;

/// Made by python-jose 3.5.0 exactly as the seed does it:
/// `jwt.encode({"sub": ID, "type": "anonymous", "exp": 1800000000}, SECRET, algorithm="HS256")`.
const PYTHON_JOSE_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
    eyJzdWIiOiIzZjI1MDRlMC00Zjg5LTQxZDMtOWEwYy0wMzA1ZTgyYzMzMDEiLCJ0eXBl\
    IjoiYW5vbnltb3VzIiwiZXhwIjoxODAwMDAwMDAwfQ.\
    olLxQcFMPr7SDt2MWyzkQ-E6GfRShJxgLAK7YGkl4U4";

/// Our own mint for ID at NOW with a 7-day lifetime; python-jose 3.5.0
/// and PyJWT 2.15 both decode it with SECRET (checked when the vector was
/// made; the Miniflare suite checks live tokens the same way).
const OUR_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
    eyJleHAiOjE3OTU4MjQ4MDAsImlhdCI6MTc5NTIyMDAwMCwic3ViIjoiM2YyNTA0ZTAtNGY4\
    OS00MWQzLTlhMGMtMDMwNWU4MmMzMzAxIiwidHlwZSI6ImFub255bW91cyJ9.\
    vplv_RATudw6945EI6aDvJzBiDpl1PC_cmBYb_uOvr4";

fn id() -> AnonId {
    AnonId::parse(ID).expect("canonical id")
}

/// Verifies with the seed's configuration: one HS256 secret, no `kid`, no
/// `iss` or `aud`. The tests of keys, issuer and audience are in
/// `src/keys/tests.rs`.
fn verify(secret: &[u8], token: &str, now: i64) -> Result<VerifiedToken, TokenError> {
    super::verify(&Policy::new(KeySet::seed(secret)), token, now)
}

/// Mints with the seed's configuration.
fn mint(secret: &[u8], anon_id: AnonId, now: i64, ttl: u64) -> Result<MintedToken, MintError> {
    super::mint(&Policy::new(KeySet::seed(secret)), anon_id, now, ttl)
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Signs any header and claims with HS256, whatever `alg` the header claims.
fn forge(header: &str, claims: &str, secret: &[u8]) -> String {
    let signed = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(signed.as_bytes());
    format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
}

fn claims_with(extra: &str) -> String {
    format!(r#"{{"sub":"{ID}","type":"anonymous"{extra}}}"#)
}

fn signed_claims(claims: &str) -> String {
    forge(r#"{"alg":"HS256","typ":"JWT"}"#, claims, SECRET)
}

#[test]
fn a_python_jose_token_from_the_seed_verifies() {
    let token: String = PYTHON_JOSE_TOKEN.split_whitespace().collect();
    let verified = verify(SECRET, &token, NOW).expect("seed token");
    assert_eq!(verified, VerifiedToken { anon_id: id(), expires_at: 1_800_000_000 });
}

#[test]
fn minting_is_deterministic_and_matches_the_known_answer() {
    let minted = mint(SECRET, id(), NOW, 7 * 24 * 3600).expect("mint");
    let expected: String = OUR_TOKEN.split_whitespace().collect();
    assert_eq!(minted.token, expected);
    assert_eq!(minted.expires_at, NOW + 604_800);
}

#[test]
fn a_minted_token_verifies_and_round_trips_the_id() {
    let minted = mint(SECRET, id(), NOW, 3600).expect("mint");
    let verified = verify(SECRET, &minted.token, NOW).expect("verify");
    assert_eq!(verified.anon_id, id());
    assert_eq!(verified.expires_at, NOW + 3600);
}

#[test]
fn another_secret_does_not_verify() {
    let minted = mint(SECRET, id(), NOW, 3600).expect("mint");
    let other = b"another-secret-of-thirty-two-bytes-or-more";
    assert_eq!(verify(other, &minted.token, NOW), Err(TokenError::BadSignature));
}

#[test]
fn every_tampered_part_is_refused() {
    let minted = mint(SECRET, id(), NOW, 3600).expect("mint").token;
    let parts: Vec<&str> = minted.split('.').collect();

    let other_claims = b64(claims_with(r#","exp":1900000000"#).as_bytes());
    let swapped_claims = format!("{}.{other_claims}.{}", parts[0], parts[2]);
    assert_eq!(verify(SECRET, &swapped_claims, NOW), Err(TokenError::BadSignature));

    let other_header = b64(br#"{"alg":"HS256"}"#);
    let swapped_header = format!("{other_header}.{}.{}", parts[1], parts[2]);
    assert_eq!(verify(SECRET, &swapped_header, NOW), Err(TokenError::BadSignature));

    // Flip one bit in each byte of the signature in turn.
    let mut signature = Base64UrlUnpadded::decode_vec(parts[2]).expect("signature");
    for i in 0..signature.len() {
        signature[i] ^= 0x01;
        let token = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
        assert_eq!(verify(SECRET, &token, NOW), Err(TokenError::BadSignature), "byte {i}");
        signature[i] ^= 0x01;
    }
}

#[test]
fn unsigned_and_empty_signatures_are_refused() {
    let claims = b64(claims_with(r#","exp":1900000000"#).as_bytes());
    let none = format!("{}.{claims}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    assert_eq!(verify(SECRET, &none, NOW), Err(TokenError::WrongAlgorithm));

    let empty = format!("{}.{claims}.", b64(br#"{"alg":"HS256","typ":"JWT"}"#));
    assert_eq!(verify(SECRET, &empty, NOW), Err(TokenError::BadSignature));

    let garbage = format!("{}.{claims}.Z2FyYmFnZQ", b64(br#"{"alg":"HS256"}"#));
    assert_eq!(verify(SECRET, &garbage, NOW), Err(TokenError::BadSignature));
}

#[test]
fn only_exactly_hs256_is_accepted_whatever_the_header_claims() {
    let claims = claims_with(r#","exp":1900000000"#);
    for alg in ["HS512", "RS256", "hs256", "none", "HS256 ", "", "ES256"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let token = forge(&header, &claims, SECRET);
        assert_eq!(verify(SECRET, &token, NOW), Err(TokenError::WrongAlgorithm), "{alg:?}");
    }
}

#[test]
fn structurally_broken_tokens_are_malformed() {
    let five = format!("{}.a.b.c.d", b64(br#"{"alg":"A128KW","enc":"A128GCM","zip":"DEF"}"#));
    let dots = ".".repeat(MAX_TOKEN_BYTES);
    for token in ["abc", "", "a.b", "a.b.c", "..", "e30.e30.", five.as_str(), dots.as_str()] {
        assert_eq!(verify(SECRET, token, NOW), Err(TokenError::Malformed), "{token:.40}");
    }
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let huge = ".".repeat(100_000);
    assert_eq!(verify(SECRET, &huge, NOW), Err(TokenError::TooLong));
    let long_claims = claims_with(&format!(r#","exp":1900000000,"pad":"{}""#, "x".repeat(3000)));
    assert_eq!(verify(SECRET, &signed_claims(&long_claims), NOW), Err(TokenError::TooLong));
}

#[test]
fn crit_and_non_json_content_types_are_refused() {
    let claims = claims_with(r#","exp":1900000000"#);
    let crit = forge(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, &claims, SECRET);
    assert_eq!(verify(SECRET, &crit, NOW), Err(TokenError::UnsupportedHeader));
    let cbor = forge(r#"{"alg":"HS256","cty":"CBOR"}"#, &claims, SECRET);
    assert_eq!(verify(SECRET, &cbor, NOW), Err(TokenError::UnsupportedHeader));
}

#[test]
fn non_numeric_or_unrepresentable_expiry_is_malformed() {
    for exp in [r#""never""#, r#""1799927093""#, "1e20", "[1]", "true", "null", "{}"] {
        let token = signed_claims(&claims_with(&format!(r#","exp":{exp}"#)));
        assert_eq!(verify(SECRET, &token, NOW), Err(TokenError::MalformedClaims), "{exp}");
    }
    let max = signed_claims(&claims_with(&format!(r#","exp":{}"#, i64::MAX)));
    assert_eq!(verify(SECRET, &max, NOW), Err(TokenError::MalformedClaims));
}

#[test]
fn a_fractional_expiry_is_truncated_to_whole_seconds() {
    let past = signed_claims(&claims_with(r#","exp":1.7e9"#));
    assert_eq!(verify(SECRET, &past, NOW), Err(TokenError::Expired));
    let future = signed_claims(&claims_with(r#","exp":1800000000.9"#));
    assert_eq!(verify(SECRET, &future, NOW).map(|v| v.expires_at), Ok(1_800_000_000));
}

#[test]
fn extreme_but_representable_timestamps_do_not_overflow() {
    let max_secs = DateTime::<Utc>::MAX_UTC.timestamp();
    let min_secs = DateTime::<Utc>::MIN_UTC.timestamp();

    // exp at the largest representable instant: valid, and the leeway
    // addition saturates instead of overflowing.
    let far = signed_claims(&claims_with(&format!(r#","exp":{max_secs}"#)));
    assert_eq!(verify(SECRET, &far, NOW).map(|v| v.expires_at), Ok(max_secs));
    assert_eq!(verify(SECRET, &far, i64::MAX), Err(TokenError::Expired));

    // nbf at the smallest representable instant is long past: accepted.
    let old_nbf = signed_claims(&claims_with(&format!(r#","exp":1900000000,"nbf":{min_secs}"#)));
    assert!(verify(SECRET, &old_nbf, NOW).is_ok());
    assert_eq!(verify(SECRET, &old_nbf, i64::MIN), Err(TokenError::NotYetValid));

    // exp at the smallest representable instant is long expired.
    let ancient = signed_claims(&claims_with(&format!(r#","exp":{min_secs}"#)));
    assert_eq!(verify(SECRET, &ancient, NOW), Err(TokenError::Expired));
}

#[test]
fn expiry_is_enforced_exactly_from_the_leeway_on() {
    for (offset, expected) in [
        (0, Ok(())),
        (-1, Ok(())),
        (-59, Ok(())),
        (-60, Err(TokenError::Expired)),
        (-61, Err(TokenError::Expired)),
    ] {
        let exp = NOW + offset;
        let token = signed_claims(&claims_with(&format!(r#","exp":{exp}"#)));
        assert_eq!(verify(SECRET, &token, NOW).map(|_| ()), expected, "exp = now{offset:+}");
    }
}

#[test]
fn not_before_is_honoured_with_the_same_leeway() {
    for (offset, expected) in [(0, Ok(())), (60, Ok(())), (61, Err(TokenError::NotYetValid))] {
        let nbf = NOW + offset;
        let token = signed_claims(&claims_with(&format!(r#","exp":1900000000,"nbf":{nbf}"#)));
        assert_eq!(verify(SECRET, &token, NOW).map(|_| ()), expected, "nbf = now{offset:+}");
    }
}

#[test]
fn a_token_without_expiry_is_refused() {
    let token = signed_claims(&claims_with(""));
    assert_eq!(verify(SECRET, &token, NOW), Err(TokenError::MissingExpiry));
}

#[test]
fn the_type_claim_must_be_anonymous() {
    for kind in [r#""user""#, r#""Anonymous""#, r#""""#] {
        let claims = format!(r#"{{"sub":"{ID}","type":{kind},"exp":1900000000}}"#);
        assert_eq!(verify(SECRET, &signed_claims(&claims), NOW), Err(TokenError::WrongType));
    }
    let missing = format!(r#"{{"sub":"{ID}","exp":1900000000}}"#);
    assert_eq!(verify(SECRET, &signed_claims(&missing), NOW), Err(TokenError::MalformedClaims));
}

#[test]
fn the_subject_must_be_a_canonical_uuid() {
    let long = "a".repeat(600);
    for sub in ["", "..", "../x", "a:b", long.as_str(), "3F2504E0-4F89-41D3-9A0C-0305E82C3301"] {
        let claims = format!(r#"{{"sub":"{sub}","type":"anonymous","exp":1900000000}}"#);
        let token = signed_claims(&claims);
        let expected = if token.len() > MAX_TOKEN_BYTES {
            TokenError::TooLong
        } else {
            TokenError::BadSubject
        };
        assert_eq!(verify(SECRET, &token, NOW), Err(expected), "{sub:.20}");
    }
    for sub in ["12345", "null", "[]"] {
        let claims = format!(r#"{{"sub":{sub},"type":"anonymous","exp":1900000000}}"#);
        assert_eq!(verify(SECRET, &signed_claims(&claims), NOW), Err(TokenError::MalformedClaims));
    }
}

#[test]
fn error_messages_never_quote_the_token() {
    let minted = mint(SECRET, id(), NOW, 3600).expect("mint").token;
    let err = verify(SECRET, &minted, NOW + 7200).unwrap_err();
    let text = err.to_string();
    for part in minted.split('.') {
        assert!(!text.contains(part));
    }
}

#[test]
fn a_null_crit_or_aud_counts_as_present_and_is_refused() {
    let claims = claims_with(r#","exp":1900000000"#);
    let crit_null = forge(r#"{"alg":"HS256","crit":null}"#, &claims, SECRET);
    assert_eq!(verify(SECRET, &crit_null, NOW), Err(TokenError::UnsupportedHeader));
    let aud_null = signed_claims(&claims_with(r#","exp":1900000000,"aud":null"#));
    assert_eq!(verify(SECRET, &aud_null, NOW), Err(TokenError::WrongAudience));
}

#[test]
fn within_the_grace_period_an_expired_token_still_refreshes() {
    let grace = 7 * 24 * 3600;
    let policy = Policy::new(KeySet::seed(SECRET));
    for (offset, expected) in [
        (-3600, Ok(())),
        (-grace, Ok(())),
        (-grace - 59, Ok(())),
        (-grace - 60, Err(TokenError::Expired)),
    ] {
        let exp = NOW + offset;
        let token = signed_claims(&claims_with(&format!(r#","exp":{exp}"#)));
        assert_eq!(
            verify(SECRET, &token, NOW).is_ok(),
            offset > -60,
            "plain verify, exp{offset:+}"
        );
        assert_eq!(
            verify_with_grace(&policy, &token, NOW, grace).map(|_| ()),
            expected,
            "exp = now{offset:+}"
        );
    }
    let far = signed_claims(&claims_with(r#","exp":1900000000"#));
    assert_eq!(verify_with_grace(&policy, &far, i64::MAX, i64::MAX), Err(TokenError::Expired));
}
