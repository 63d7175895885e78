//! Property-based fuzzing of everything that reads untrusted input: the
//! token verifier, the `Authorization` header, the query string, a
//! structured action's body, a page query and its cursor, the URL split, and
//! whole requests through the handlers.
//!
//! `make test` runs each property for proptest's default 256 cases (or
//! `PROPTEST_CASES`); `make fuzz` runs them far longer. A failure that
//! proptest finds is shrunk to a minimal input, which becomes a named
//! regression test in the module it concerns.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use pollster::block_on;
use proptest::prelude::*;
use sha2::Sha256;

use crate::{
    action, action_json,
    anon_id::AnonId,
    bearer,
    config::{Config, SECRET_BINDING},
    cors::CorsPolicy,
    cursor,
    handlers::{Deps, follow_up, handle},
    http::{Body, Request},
    keys::KeySet,
    kv::memory::MemoryKv,
    page,
    platform::fake::FakePlatform,
    token::{self, Policy, TokenError},
};

const SECRET: &[u8] = b"property-tests-secret-0123456789abcdef";
const NOW: i64 = 1_795_220_000;

/// The seed's configuration: `SECRET` signs, without `kid`.
fn policy() -> Policy {
    Policy::new(KeySet::seed(SECRET))
}

fn sign(header: &str, claims: &str) -> String {
    let signed = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(claims.as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(signed.as_bytes());
    format!("{signed}.{}", Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes()))
}

/// Any JSON value, nested a little, with numbers at the edges of every type.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        Just(serde_json::json!(NOW + 3600)),
        Just(serde_json::json!(1e300)),
        ".{0,40}".prop_map(serde_json::Value::from),
        Just(serde_json::json!("3f2504e0-4f89-41d3-9a0c-0305e82c3301")),
        Just(serde_json::json!("anonymous")),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn claim_set() -> impl Strategy<Value = serde_json::Value> {
    let field = |name: &'static str| {
        prop::option::of(json_value()).prop_map(move |v| v.map(|v| (name.to_owned(), v)))
    };
    (field("sub"), field("type"), field("exp"), field("nbf"), field("iat")).prop_map(
        |(a, b, c, d, e)| {
            serde_json::Value::Object([a, b, c, d, e].into_iter().flatten().collect())
        },
    )
}

fn header_set() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"alg":"HS256","typ":"JWT"}"#.to_owned()),
        Just(r#"{"alg":"HS256"}"#.to_owned()),
        json_value().prop_map(|v| v.to_string()),
        (".{0,12}", ".{0,12}")
            .prop_map(|(alg, cty)| { serde_json::json!({"alg": alg, "cty": cty}).to_string() }),
    ]
}

/// The refusals a token can get without a valid signature: its size, its
/// structure, its header, its key, its algorithm, its signature, or claims
/// that do not even parse (jwt-compact parses them before it checks the
/// signature). Never one that judges the meaning of its claims (`exp`,
/// `type`, `sub`...): those are reached only by a correctly signed token.
fn refused_before_its_claims_are_judged(error: TokenError) -> bool {
    matches!(
        error,
        TokenError::TooLong
            | TokenError::Malformed
            | TokenError::WrongAlgorithm
            | TokenError::UnsupportedHeader
            | TokenError::UnknownKey
            | TokenError::MissingKeyId
            | TokenError::BadSignature
            | TokenError::MalformedClaims
    )
}

proptest! {
    /// No string but a signed token verifies: one over the cap is too long,
    /// one without exactly three segments is malformed, and anything else
    /// is refused before its claims are judged.
    #[test]
    fn verify_refuses_any_string(token in ".{0,600}", now in any::<i64>()) {
        let result = token::verify(&policy(), &token, now);
        let expected_first = if token.len() > token::MAX_TOKEN_BYTES {
            Some(TokenError::TooLong)
        } else if token.matches('.').count() != 2 {
            Some(TokenError::Malformed)
        } else {
            None
        };
        match (result, expected_first) {
            (Err(error), Some(expected)) => prop_assert_eq!(error, expected),
            (Err(error), None) => {
                prop_assert!(refused_before_its_claims_are_judged(error), "{error:?}");
            }
            (Ok(verified), _) => {
                return Err(TestCaseError::fail(format!("{token:?} verified as {verified:?}")));
            }
        }
    }

    /// Base64-looking segments (at most 485 bytes, under the cap): any
    /// count of segments but three is malformed, and three unsigned ones
    /// are refused before their claims are judged.
    #[test]
    fn verify_refuses_dotted_base64_junk(
        parts in prop::collection::vec("[A-Za-z0-9_=+/-]{0,80}", 0..6),
        now in any::<i64>(),
    ) {
        let result = token::verify(&policy(), &parts.join("."), now);
        match result {
            Err(error) if parts.len() == 3 => {
                prop_assert!(refused_before_its_claims_are_judged(error), "{error:?}");
            }
            Err(error) => prop_assert_eq!(error, TokenError::Malformed),
            Ok(verified) => {
                return Err(TestCaseError::fail(format!("{parts:?} verified as {verified:?}")));
            }
        }
    }

    /// Correctly signed tokens with arbitrary headers and claims: whatever
    /// is accepted obeys every rule.
    #[test]
    fn whatever_verifies_obeys_the_token_rules(
        header in header_set(),
        claims in claim_set(),
        now in prop_oneof![Just(NOW), any::<i64>()],
    ) {
        let token = sign(&header, &claims.to_string());
        if let Ok(verified) = token::verify(&policy(), &token, now) {
            let header: serde_json::Value =
                serde_json::from_str(&header).expect("accepted header is JSON");
            prop_assert_eq!(&header["alg"], "HS256");
            prop_assert_eq!(&claims["type"], "anonymous");
            prop_assert_eq!(Some(verified.anon_id), claims["sub"].as_str().and_then(AnonId::parse));
            prop_assert!(now < verified.expires_at.saturating_add(token::LEEWAY_SECONDS));
        }
    }

    /// Any single-byte change to a valid token is refused, or (if it only
    /// touches unused base64 bits) still names the same visitor.
    #[test]
    fn a_mutated_token_never_verifies_as_someone_else(
        position in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
        mode in 0..3_u8,
    ) {
        let id = AnonId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").expect("id");
        let minted = token::mint(&policy(), id, NOW, 3600).expect("mint").token;
        let mut bytes = minted.clone().into_bytes();
        let at = position.index(bytes.len());
        match mode {
            0 => bytes[at] = replacement,
            1 => { bytes.remove(at); }
            _ => bytes.insert(at, replacement),
        }
        let Ok(mutated) = String::from_utf8(bytes) else { return Ok(()) };
        if mutated != minted
            && let Ok(verified) = token::verify(&policy(), &mutated, NOW)
        {
            prop_assert_eq!(verified.anon_id, id);
        }
    }

    #[test]
    fn bearer_parsing_never_panics_and_returns_a_b64token(header in "(?s).{0,300}") {
        if let Ok(token) = bearer::token_from_header(Some(&header)) {
            prop_assert!(!token.is_empty());
            prop_assert!(header.contains(token));
            prop_assert!(!token.contains(' ') && !token.contains('\t'));
        }
    }

    #[test]
    fn action_parsing_never_panics_and_enforces_its_rules(query in "(?s).{0,400}") {
        if let Ok(action) = action::from_query(&query) {
            let text = action.as_str();
            prop_assert!(!text.is_empty() && text.chars().count() <= action::MAX_ACTION_CHARS);
            prop_assert!(!text.chars().any(char::is_control));
        }
    }

    #[test]
    fn encoded_actions_round_trip(text in "[^\\p{Cc}]{1,60}") {
        let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
        let query = format!("action={encoded}");
        if text.chars().count() <= action::MAX_ACTION_CHARS {
            prop_assert_eq!(action::from_query(&query).map(action::Action::into_string), Ok(text));
        }
    }

    #[test]
    fn body_parsing_never_panics_and_what_it_accepts_fits_kv_metadata(
        body in prop_oneof![
            "(?s).{0,300}",
            (".{0,220}", json_value()).prop_map(|(kind, data)| {
                serde_json::json!({"type": kind, "data": data}).to_string()
            }),
        ],
    ) {
        if let Ok(new) = action_json::parse(Some("application/json"), Some(&body)) {
            let stored = serde_json::json!({"a": new.kind.as_str(), "t": i64::MAX, "d": new.data});
            prop_assert!(stored.to_string().len() <= 1024, "{stored}");
            prop_assert!(new.data.as_ref().is_none_or(|d| !d.is_null()));
        }
    }

    #[test]
    fn page_queries_never_panic_and_keep_the_limit_in_range(query in "(?s).{0,200}") {
        if let Ok(wanted) = page::parse(&query) {
            prop_assert!((1..=page::MAX_PAGE_LIMIT).contains(&wanted.limit));
            prop_assert!(wanted.cursor.as_deref() != Some(""));
        }
    }

    #[test]
    fn no_cursor_opens_but_one_sealed_for_that_visitor(
        text in "(?s).{0,300}",
        kv_cursor in "[!-~]{1,200}",
        flip in any::<prop::sample::Index>(),
    ) {
        let key = [3; 32];
        let id = AnonId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").expect("id");
        // Random text opens only if it is exactly what we would have sealed.
        if let Ok(inside) = cursor::open(&key, id, &text) {
            prop_assert_eq!(cursor::seal(&key, id, &inside), text);
        }
        let sealed = cursor::seal(&key, id, &kv_cursor);
        let opened = cursor::open(&key, id, &sealed);
        prop_assert_eq!(opened.as_deref(), Ok(kv_cursor.as_str()));
        let mut bytes = sealed.into_bytes();
        let at = flip.index(bytes.len());
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).expect("ascii");
        prop_assert!(cursor::open(&key, id, &altered).is_err());
    }

    #[test]
    fn url_splitting_never_panics(url in "(?s).{0,200}") {
        let request = Request::from_url("GET", &url, None);
        prop_assert!(request.path.starts_with('/') || request.path.is_empty());
    }

    /// Whole requests with hostile methods, paths, queries and headers:
    /// never a 5xx while the configuration and KV are sound, and always a
    /// JSON body.
    #[test]
    fn no_request_produces_a_server_error(
        method in prop_oneof![Just("GET".to_owned()), Just("POST".to_owned()), "[A-Z]{0,8}"],
        path in prop_oneof![
            Just("/items/add_action".to_owned()),
            Just("/items/my_anonymous_items".to_owned()),
            Just("/anon/whoami".to_owned()),
            Just("/anon/login".to_owned()),
            Just("/anon/refresh".to_owned()),
            Just("/anon/me".to_owned()),
            Just("/v1/actions".to_owned()),
            "/[!-~]{0,40}",
        ],
        query in "[!-~]{0,120}",
        authorization in prop::option::of(prop_oneof![
            "(?s).{0,120}",
            "[Bb]earer[ \t]{0,3}[A-Za-z0-9._~+/=-]{0,120}",
        ]),
        use_valid_token in any::<bool>(),
        method_pick in prop_oneof![Just(None), Just(Some("DELETE")), Just(Some("POST"))],
        body in prop::option::of("(?s).{0,300}"),
        content_type in
            prop::option::of(prop_oneof![Just("application/json".to_owned()), ".{0,30}"]),
    ) {
        let method = method_pick.map_or(method, str::to_owned);
        let config = Config::from_lookup(|name| {
            (name == SECRET_BINDING).then(|| String::from_utf8_lossy(SECRET).into_owned())
        }).expect("config");
        let kv = MemoryKv::default();
        let valid = format!(
            "Bearer {}",
            token::mint(&policy(), AnonId::generate().expect("id"), NOW, 3600).expect("mint").token
        );
        let authorization = if use_valid_token { Some(valid) } else { authorization };
        let url = format!("http://127.0.0.1:8787{path}?{query}");
        let mut request = Request::from_url(&method, &url, authorization.as_deref());
        request.body = body.as_deref().map_or(Body::Unread, Body::Text);
        request.content_type = content_type.as_deref();
        let cors = CorsPolicy::parse("https://app.example.com").expect("valid");
        let platform = FakePlatform::default();
        let deps = Deps {
            config: Ok(&config),
            cors: &cors,
            kv: Some(&kv),
            platform: &platform,
            now_ms: NOW * 1000,
        };
        let outcome = block_on(handle(&request, &deps));
        prop_assert!(outcome.response.status < 500, "{} for {request:?}", outcome.response.status);
        prop_assert!(serde_json::from_str::<serde_json::Value>(&outcome.response.body).is_ok());
        if let Some(job) = outcome.follow_up {
            let line = block_on(follow_up(&kv, &config, job));
            prop_assert!(line.contains(r#""complete":true"#), "{line}");
        }
    }
}
