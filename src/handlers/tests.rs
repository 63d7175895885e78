//! The endpoints end to end over the in-memory KV, with a fixed clock. The
//! KV operation counts asserted here are the ones the README states.

use pollster::block_on;
use serde_json::Value;

use super::*;
use crate::routes::Route;
use crate::{
    action::Action, config::SECRET_BINDING, kv::memory::MemoryKv, platform::fake::FakePlatform,
    retention::Retention,
};

const NOW_MS: i64 = 1_795_220_000_000;
const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn config() -> Config {
    Config::from_lookup(|name| (name == SECRET_BINDING).then(|| SECRET.to_owned())).expect("valid")
}

/// A client whose clock advances one millisecond per request, so that the
/// actions it records have distinct, increasing timestamps.
struct Client {
    config: Config,
    cors: CorsPolicy,
    kv: MemoryKv,
    platform: FakePlatform,
    now_ms: std::cell::Cell<i64>,
}

impl Client {
    fn new(kv: MemoryKv) -> Self {
        Self {
            config: config(),
            cors: CorsPolicy::parse("https://app.example.com").expect("valid"),
            kv,
            platform: FakePlatform::default(),
            now_ms: NOW_MS.into(),
        }
    }

    fn call(&self, method: &str, target: &str, auth: Option<&str>) -> (Response, Value) {
        self.send(method, target, auth, None, Body::Unread)
    }

    /// A `POST /v1/actions` with a JSON body.
    fn post_json(&self, auth: &str, body: &str) -> (Response, Value) {
        self.send("POST", "/v1/actions", Some(auth), Some("application/json"), Body::Text(body))
    }

    /// Sends a request at the client's clock, which the KV's expiry follows,
    /// and runs its follow-up as the edge would once the response is sent.
    fn send(
        &self,
        method: &str,
        target: &str,
        auth: Option<&str>,
        content_type: Option<&str>,
        body: Body<'_>,
    ) -> (Response, Value) {
        let url = format!("http://127.0.0.1:8787{target}");
        let mut req = Request::from_url(method, &url, auth);
        req.content_type = content_type;
        req.body = body;
        let now_ms = self.now_ms.get();
        self.now_ms.set(now_ms + 1);
        self.kv.set_now(now_ms.div_euclid(1000));
        let deps = Deps {
            config: Ok(&self.config),
            cors: &self.cors,
            kv: Some(&self.kv),
            platform: &self.platform,
            now_ms,
        };
        let outcome = block_on(handle(&req, &deps));
        if let Some(job) = outcome.follow_up {
            let line = block_on(follow_up(&self.kv, &self.config, job));
            assert!(line.contains(r#""event":"slide""#), "{line}");
        }
        let body = serde_json::from_str(&outcome.response.body).expect("every body is JSON");
        (outcome.response, body)
    }

    /// Sets the clock to `days` after the start.
    fn at_day(&self, days: i64) {
        self.now_ms.set(NOW_MS + days * 24 * 3_600_000);
    }

    fn login(&self) -> (String, String) {
        let (r, body) = self.call("POST", "/anon/login", None);
        assert_eq!(r.status, 200);
        let token = body["access_token"].as_str().expect("token").to_owned();
        (format!("Bearer {token}"), body["anon_id"].as_str().expect("id").to_owned())
    }
}

#[test]
fn login_mints_a_bearer_token_without_touching_kv() {
    let c = Client::new(MemoryKv::default());
    let (r, body) = c.call("POST", "/anon/login", None);
    assert_eq!(r.status, 200);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 604_800);
    assert!(AnonId::parse(body["anon_id"].as_str().unwrap()).is_some());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 0));
}

#[test]
fn the_seed_flow_works_end_to_end() {
    let c = Client::new(MemoryKv::default());
    let (auth, id) = c.login();

    let (r, body) = c.call("POST", "/items/add_action?action=opened%20app", Some(&auth));
    assert_eq!(r.status, 200);
    assert_eq!(body["anon_id"], id.as_str());
    assert_eq!(body["message"], format!("Action 'opened app' recorded for anonymous user {id}"));
    assert_eq!(body["current_actions"], serde_json::json!(["opened app"]));

    let (_, body) = c.call("POST", "/items/add_action?action=clicked", Some(&auth));
    assert_eq!(body["current_actions"], serde_json::json!(["opened app", "clicked"]));

    let (r, body) = c.call("GET", "/items/my_anonymous_items", Some(&auth));
    assert_eq!(r.status, 200);
    assert_eq!(body["message"], format!("Welcome, anonymous user {id}!"));
    assert_eq!(body["your_items"], serde_json::json!([]));
    assert_eq!(body["previous_actions"], serde_json::json!(["opened app", "clicked"]));

    let (_, second_id) = c.login();
    assert_ne!(second_id, id);
}

#[test]
fn whoami_reads_the_token_alone() {
    let c = Client::new(MemoryKv::default());
    let (auth, id) = c.login();
    let (r, body) = c.call("GET", "/anon/whoami", Some(&auth));
    assert_eq!(r.status, 200);
    assert_eq!(body, serde_json::json!({"anon_id": id, "expires_at": NOW_MS / 1000 + 604_800}));
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 0));
}

#[test]
fn kv_operations_per_endpoint_are_as_documented() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();

    c.call("POST", "/items/add_action?action=a", Some(&auth));
    assert_eq!(*c.kv.ops.borrow(), (1, 2, 1), "first action: list, put, get, record put");

    c.kv.reset_ops();
    c.call("POST", "/items/add_action?action=b", Some(&auth));
    assert_eq!(*c.kv.ops.borrow(), (1, 1, 1), "within a minute: list, put, get");

    c.kv.reset_ops();
    c.call("GET", "/items/my_anonymous_items", Some(&auth));
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 1), "reading: one list");
}

#[test]
fn a_new_action_is_returned_even_before_the_listing_sees_it() {
    let c = Client::new(MemoryKv::lagging());
    let (auth, _) = c.login();
    let (_, body) = c.call("POST", "/items/add_action?action=first", Some(&auth));
    assert_eq!(body["current_actions"], serde_json::json!(["first"]));
    let (_, body) = c.call("POST", "/items/add_action?action=second", Some(&auth));
    assert_eq!(body["current_actions"], serde_json::json!(["second"]), "replica lags");
    c.kv.catch_up();
    let (_, body) = c.call("GET", "/items/my_anonymous_items", Some(&auth));
    assert_eq!(body["previous_actions"], serde_json::json!(["first", "second"]));
}

#[test]
fn every_key_written_carries_the_data_ttl() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    c.call("POST", "/items/add_action?action=a", Some(&auth));
    c.post_json(&auth, r#"{"type":"b"}"#);
    assert_eq!(c.kv.keys().len(), 3);
    for key in c.kv.keys() {
        assert_eq!(c.kv.entry(&key).expect("entry").2, 3_888_000, "{key}: 1.5 x 30 days");
    }
}

#[test]
fn missing_and_refused_tokens_get_401_with_challenges_and_no_kv_operation() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    let expired = {
        let later = Client::new(MemoryKv::default());
        later.now_ms.set(NOW_MS + 8 * 24 * 3600 * 1000);
        later.call("GET", "/anon/whoami", Some(&auth)).0
    };
    assert_eq!(expired.status, 401);
    assert!(expired.header("www-authenticate").unwrap().contains("token has expired"));

    let cases: [(Option<&str>, u16, Option<&str>); 5] = [
        (None, 401, Some("Bearer")),
        (Some("Basic dXNlcjpwYXNz"), 401, Some("Bearer")),
        (Some("Bearer abc"), 401, None),
        (Some("Bearer "), 401, None),
        (Some("Bearer a.b.c"), 401, None),
    ];
    for path in ["/anon/whoami", "/items/my_anonymous_items", "/items/add_action?action=x"] {
        let method = if path.starts_with("/items/add") { "POST" } else { "GET" };
        for (header, status, exact_challenge) in cases {
            let (r, body) = c.call(method, path, header);
            assert_eq!(r.status, status, "{path} {header:?}");
            assert!(body["detail"].is_string());
            let challenge = r.header("www-authenticate").expect("challenge");
            match exact_challenge {
                Some(exact) => assert_eq!(challenge, exact),
                None => assert!(challenge.starts_with("Bearer error=")),
            }
        }
    }
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 0));
}

#[test]
fn a_bad_action_is_refused_before_any_kv_operation() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    for (query, fragment) in [
        ("", "required"),
        ("?action=", "empty"),
        ("?action=%FF", "UTF-8"),
        ("?action=%00", "control"),
        ("?action=a&action=b", "once"),
    ] {
        let (r, body) = c.call("POST", &format!("/items/add_action{query}"), Some(&auth));
        assert_eq!(r.status, 422, "{query}");
        assert!(body["detail"].as_str().unwrap().contains(fragment), "{query}: {body}");
    }
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 0));
}

/// A token signed with the test secret, whatever its claims say.
fn hs256(claims: &str) -> String {
    use base64ct::{Base64UrlUnpadded as B64, Encoding};
    use hmac::Mac;
    let signed = format!(
        "{}.{}",
        B64::encode_string(br#"{"alg":"HS256","typ":"JWT"}"#),
        B64::encode_string(claims.as_bytes())
    );
    let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any length");
    format!("{signed}.{}", B64::encode_string(&mac.chain_update(&signed).finalize().into_bytes()))
}

#[test]
fn a_sub_that_is_not_a_canonical_uuid_is_refused_before_any_kv_operation() {
    let c = Client::new(MemoryKv::default());
    let long = "x".repeat(600);
    let subs = ["12345", r#""""#, r#""..""#, r#""../x""#, r#""a:b""#];
    for sub in subs.iter().map(|s| (*s).to_owned()).chain([format!(r#""{long}""#)]) {
        let claims = format!(r#"{{"sub":{sub},"type":"anonymous","exp":{}}}"#, NOW_MS / 1000 + 60);
        let auth = format!("Bearer {}", hs256(&claims));
        for (method, target) in [
            ("GET", "/items/my_anonymous_items"),
            ("POST", "/items/add_action?action=a"),
            ("GET", "/v1/actions"),
            ("GET", "/anon/me"),
            ("DELETE", "/anon/me"),
            ("POST", "/anon/refresh"),
        ] {
            let (r, body) = c.call(method, target, Some(&auth));
            assert_eq!(r.status, 401, "{sub:.20} {method} {target}");
            // A number is not even a string claim; the rest are not UUIDs.
            let expected = if sub == "12345" {
                "token claims are malformed"
            } else {
                "token subject is not an anonymous id"
            };
            assert_eq!(body["detail"], expected, "{sub:.20}");
        }
    }
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 0));
    assert_eq!(c.kv.deletes.get(), 0);
}

#[test]
fn a_token_is_checked_before_the_action() {
    let c = Client::new(MemoryKv::default());
    let (r, _) = c.call("POST", "/items/add_action?action=%FF", None);
    assert_eq!(r.status, 401);
}

#[test]
fn unknown_paths_and_wrong_methods_get_json() {
    let c = Client::new(MemoryKv::default());
    let (r, body) = c.call("GET", "/nope", None);
    assert_eq!((r.status, body["detail"].as_str()), (404, Some("Not Found")));
    let (r, body) = c.call("GET", "/anon/login", None);
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    assert_eq!(body["detail"], "Method Not Allowed");
    let (r, body) = c.call("GET", "/", None);
    assert_eq!(r.status, 200);
    assert_eq!(body["message"], "Welcome to the anonymous session demo!");
}

#[test]
fn without_a_secret_nothing_is_minted_or_accepted() {
    let working = Client::new(MemoryKv::default());
    let (auth, _) = working.login();
    let missing = ConfigError::MissingSecret;
    let kv = MemoryKv::default();
    for (method, target, header) in [
        ("POST", "/anon/login", None),
        ("GET", "/anon/whoami", Some(auth.as_str())),
        ("GET", "/items/my_anonymous_items", Some(auth.as_str())),
        ("POST", "/items/add_action?action=x", Some(auth.as_str())),
    ] {
        let url = format!("http://h{target}");
        let req = Request::from_url(method, &url, header);
        let cors = CorsPolicy::default();
        let platform = FakePlatform::default();
        let deps = Deps {
            config: Err(&missing),
            cors: &cors,
            kv: Some(&kv),
            platform: &platform,
            now_ms: NOW_MS,
        };
        let outcome = block_on(handle(&req, &deps));
        assert_eq!(outcome.response.status, 500, "{target}");
        assert!(outcome.response.body.contains("JWT_SECRET"));
    }
    assert_eq!(*kv.ops.borrow(), (0, 0, 0));
}

#[test]
fn without_a_kv_binding_the_data_routes_say_what_to_bind() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    let url = "http://h/items/my_anonymous_items";
    let req = Request::from_url("GET", url, Some(&auth));
    let deps: Deps<'_, MemoryKv, FakePlatform> = Deps {
        config: Ok(&c.config),
        cors: &c.cors,
        kv: None,
        platform: &c.platform,
        now_ms: NOW_MS,
    };
    let outcome = block_on(handle(&req, &deps));
    assert_eq!(outcome.response.status, 500);
    assert!(outcome.response.body.contains("ANON_KV"));
}

#[test]
fn a_visitor_at_the_action_cap_gets_409_and_nothing_is_written() {
    let c = Client::new(MemoryKv::default());
    let (auth, id) = c.login();
    let id = AnonId::parse(&id).expect("id");
    let store = Store::new(&c.kv, Retention::new(60));
    let action = Action::new("x".into()).expect("valid");
    for n in 0..crate::store::MAX_ACTIONS_PER_VISITOR {
        let ms = NOW_MS - 1_000_000 + i64::try_from(n).expect("small");
        block_on(store.add_action(id, &action, None, ms, 0)).expect("put");
    }
    c.kv.reset_ops();

    let (r, body) = c.call("POST", "/items/add_action?action=one-more", Some(&auth));
    assert_eq!(r.status, 409);
    assert_eq!(body["detail"], "this visitor already holds the maximum of 10000 actions");
    assert_eq!(c.kv.ops.borrow().1, 0, "no write");
}

fn call_with(c: &Client, method: &str, target: &str, edit: impl Fn(&mut Request<'_>)) -> Outcome {
    let url = format!("http://127.0.0.1:8787{target}");
    let mut req = Request::from_url(method, &url, None);
    edit(&mut req);
    let deps = Deps {
        config: Ok(&c.config),
        cors: &c.cors,
        kv: Some(&c.kv),
        platform: &c.platform,
        now_ms: NOW_MS,
    };
    block_on(handle(&req, &deps))
}

#[test]
fn a_preflight_from_an_allowed_origin_needs_no_token() {
    let c = Client::new(MemoryKv::default());
    let outcome = call_with(&c, "OPTIONS", "/items/add_action", |r| {
        r.origin = Some("https://app.example.com");
        r.preflight_method = Some("POST");
    });
    let r = outcome.response;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, "");
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET, POST, DELETE, OPTIONS"));
    assert!(r.header("access-control-allow-headers").unwrap().contains("authorization"));
}

#[test]
fn a_preflight_from_another_origin_is_refused_and_options_alone_is_405() {
    let c = Client::new(MemoryKv::default());
    let outcome = call_with(&c, "OPTIONS", "/anon/login", |r| {
        r.origin = Some("https://evil.example.net");
        r.preflight_method = Some("POST");
    });
    assert_eq!(outcome.response.status, 403);
    assert_eq!(outcome.response.header("access-control-allow-origin"), None);
    assert_eq!(outcome.response.body, r#"{"detail":"origin not allowed"}"#);
    assert_eq!(outcome.error.as_ref().map(ApiError::kind), Some("origin_not_allowed"));

    let outcome = call_with(&c, "OPTIONS", "/anon/login", |_| {});
    assert_eq!(outcome.response.status, 405);
}

#[test]
fn errors_to_an_allowed_origin_carry_cors_headers_so_the_spa_can_read_them() {
    let c = Client::new(MemoryKv::default());
    let outcome =
        call_with(&c, "GET", "/anon/whoami", |r| r.origin = Some("https://app.example.com"));
    let r = outcome.response;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert!(r.header("access-control-expose-headers").unwrap().contains("www-authenticate"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
}

#[test]
fn minting_is_limited_per_client_ip_with_retry_after() {
    let mut c = Client::new(MemoryKv::default());
    c.platform.limit = Some(3);
    let mint = |ip: &'static str| {
        call_with(&c, "POST", "/anon/login", move |r| r.client_ip = Some(ip)).response
    };
    for _ in 0..3 {
        assert_eq!(mint("203.0.113.7").status, 200);
    }
    let limited = mint("203.0.113.7");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("60"));
    assert!(limited.body.contains("too many requests"));
    assert_eq!(mint("203.0.113.8").status, 200, "another client is unaffected");
}

#[test]
fn the_session_routes_are_limited_per_visitor() {
    let mut c = Client::new(MemoryKv::default());
    c.platform.limit = Some(2);
    let (auth, _) = c.login();
    assert_eq!(c.call("GET", "/anon/whoami", Some(&auth)).0.status, 200);
    assert_eq!(c.call("GET", "/anon/whoami", Some(&auth)).0.status, 200);
    assert_eq!(c.call("GET", "/anon/whoami", Some(&auth)).0.status, 429);
    let (other, _) = c.login();
    assert_eq!(c.call("GET", "/anon/whoami", Some(&other)).0.status, 200);
}

fn turnstile_client() -> Client {
    let mut c = Client::new(MemoryKv::default());
    c.config = Config::from_lookup(|name| match name {
        SECRET_BINDING => Some(SECRET.to_owned()),
        "TURNSTILE_SECRET" => Some("turnstile-secret".to_owned()),
        _ => None,
    })
    .expect("valid");
    c
}

#[test]
fn with_turnstile_a_mint_needs_a_token_that_siteverify_accepts() {
    let c = turnstile_client();
    let missing = call_with(&c, "POST", "/anon/login", |_| {});
    assert_eq!(missing.response.status, 403);
    assert!(missing.response.body.contains("Turnstile token is required"));
    assert_eq!(c.platform.siteverify_calls.get(), 0);

    let ok = call_with(&c, "POST", "/anon/login", |r| {
        r.turnstile = Some("widget-token");
        r.client_ip = Some("203.0.113.7");
    });
    assert_eq!(ok.response.status, 200);
    assert_eq!(
        c.platform.last_request.borrow().as_deref(),
        Some(r#"{"secret":"turnstile-secret","response":"widget-token","remoteip":"203.0.113.7"}"#)
    );

    let from_body = call_with(&c, "POST", "/anon/login", |r| {
        r.body = Body::Text(r#"{"cf-turnstile-response":"in-body"}"#);
    });
    assert_eq!(from_body.response.status, 200);
}

#[test]
fn with_turnstile_a_rejected_token_is_403_and_an_unreachable_siteverify_fails_closed() {
    let c = turnstile_client();
    *c.platform.siteverify.borrow_mut() =
        Ok(r#"{"success":false,"error-codes":["invalid-input-response"]}"#.into());
    let rejected = call_with(&c, "POST", "/anon/login", |r| r.turnstile = Some("bad"));
    assert_eq!(rejected.response.status, 403);
    assert!(rejected.error.unwrap().log_detail().unwrap().contains("invalid-input-response"));

    *c.platform.siteverify.borrow_mut() = Err("timed out after 3000 ms".into());
    let down = call_with(&c, "POST", "/anon/login", |r| r.turnstile = Some("any"));
    assert_eq!(down.response.status, 503);
    assert!(down.response.body.contains("Turnstile check is unavailable"));
    assert!(!down.response.body.contains("access_token"));
}

#[test]
fn the_outcome_names_the_route_and_the_verified_visitor() {
    let c = Client::new(MemoryKv::default());
    let (auth, id) = c.login();
    let auth: &'static str = Box::leak(auth.into_boxed_str());
    let outcome = call_with(&c, "GET", "/anon/whoami", |r| r.authorization = Some(auth));
    assert_eq!(outcome.route, Some(Route::WhoAmI));
    assert_eq!(outcome.anon_id.map(|a| a.to_string()), Some(id));
}

fn eddsa_client(kids: &'static str) -> Client {
    let mut c = Client::new(MemoryKv::default());
    c.config = Config::from_lookup(|name| match name {
        "JWT_ALGORITHM" => Some("EdDSA".to_owned()),
        "JWT_KIDS" => Some(kids.to_owned()),
        // 32 bytes of 7 and of 8, base64url.
        "JWT_KEY_k1" => Some("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc".to_owned()),
        "JWT_KEY_k2" => Some("CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg".to_owned()),
        _ => None,
    })
    .expect("valid");
    c
}

#[test]
fn the_jwks_is_public_cacheable_and_lists_the_ed25519_keys_without_touching_kv() {
    let c = eddsa_client("k1 k2");
    let (r, body) = c.call("GET", "/.well-known/jwks.json", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    let kids: Vec<&str> =
        body["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["k1", "k2"]);
    assert!(body["keys"].as_array().unwrap().iter().all(|k| k.get("d").is_none()));
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 0));

    let (auth, id) = c.login();
    let (r, body) = c.call("GET", "/anon/whoami", Some(&auth));
    assert_eq!((r.status, body["anon_id"].as_str()), (200, Some(id.as_str())));
}

#[test]
fn an_hs256_worker_publishes_an_empty_jwks() {
    let c = Client::new(MemoryKv::default());
    let (r, body) = c.call("GET", "/.well-known/jwks.json", None);
    assert_eq!(r.status, 200);
    assert_eq!(body, serde_json::json!({"keys": []}));
}

#[test]
fn refresh_gives_the_same_visitor_a_fresh_token_and_counts_as_activity() {
    let c = Client::new(MemoryKv::default());
    let (auth, id) = c.login();
    c.now_ms.set(NOW_MS + 3_600_000);
    let (r, body) = c.call("POST", "/anon/refresh", Some(&auth));
    assert_eq!(r.status, 200);
    assert_eq!(body["anon_id"], id.as_str());
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 604_800);
    assert_ne!(format!("Bearer {}", body["access_token"].as_str().unwrap()), auth);
    assert_eq!(*c.kv.ops.borrow(), (2, 1, 0), "tombstone and record read, record written");
    c.kv.reset_ops();
    c.call("POST", "/anon/refresh", Some(&auth));
    assert_eq!(*c.kv.ops.borrow(), (2, 0, 0), "within a minute: reads only");

    let fresh = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let (_, who) = c.call("GET", "/anon/whoami", Some(&fresh));
    assert_eq!(who["expires_at"], (NOW_MS + 3_600_000) / 1000 + 604_800);
}

#[test]
fn an_expired_token_refreshes_within_the_grace_period_and_not_after() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    let day_ms = 24 * 3_600_000;

    c.now_ms.set(NOW_MS + 8 * day_ms);
    assert_eq!(c.call("GET", "/anon/whoami", Some(&auth)).0.status, 401, "expired");
    assert_eq!(c.call("POST", "/anon/refresh", Some(&auth)).0.status, 200, "in grace");

    c.now_ms.set(NOW_MS + 15 * day_ms);
    let (r, body) = c.call("POST", "/anon/refresh", Some(&auth));
    assert_eq!(r.status, 401, "past grace");
    assert_eq!(body["detail"], "token has expired");
}

#[test]
fn me_returns_the_record_and_the_count_in_few_kv_operations() {
    let c = Client::new(MemoryKv::default());
    let (auth, id) = c.login();
    let (r, body) = c.call("GET", "/anon/me", Some(&auth));
    assert_eq!(r.status, 200);
    assert_eq!(
        body,
        serde_json::json!({
            "anon_id": id, "created_at": null, "last_activity_at": null,
            "token_expires_at": NOW_MS / 1000 + 604_800, "action_count": 0,
        })
    );

    c.call("POST", "/items/add_action?action=a", Some(&auth));
    c.call("POST", "/items/add_action?action=b", Some(&auth));
    c.kv.reset_ops();
    let (_, body) = c.call("GET", "/anon/me", Some(&auth));
    assert_eq!(body["action_count"], 2);
    assert_eq!(body["created_at"], NOW_MS / 1000);
    assert_eq!(*c.kv.ops.borrow(), (1, 0, 1), "one get and one list");
}

#[test]
fn a_structured_action_is_stored_with_a_server_time_and_an_id_and_answered_201() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    let (r, body) = c.post_json(&auth, r#"{"type":"added to cart","data":{"sku":"A-1"}}"#);
    assert_eq!(r.status, 201);
    assert_eq!(body["type"], "added to cart");
    assert_eq!(body["data"], serde_json::json!({"sku": "A-1"}));
    let at = body["recorded_at_ms"].as_i64().expect("time");
    assert!(at >= NOW_MS);
    let id = body["id"].as_str().expect("id");
    assert_eq!(id.len(), 22, "13 digits of ms, a dash, 8 hex digits: {id}");
    assert!(id.starts_with(&format!("{at:013}-")));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[test]
fn both_forms_land_in_one_store_and_list_alike() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    c.call("POST", "/items/add_action?action=opened", Some(&auth));
    c.post_json(&auth, r#"{"type":"clicked","data":[1,2]}"#);

    let (_, items) = c.call("GET", "/items/my_anonymous_items", Some(&auth));
    assert_eq!(items["previous_actions"], serde_json::json!(["opened", "clicked"]));
    let (r, page) = c.call("GET", "/v1/actions", Some(&auth));
    assert_eq!(r.status, 200);
    let listed: Vec<(&str, &Value)> = page["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| (a["type"].as_str().unwrap(), &a["data"]))
        .collect();
    assert_eq!(listed, [("opened", &Value::Null), ("clicked", &serde_json::json!([1, 2]))]);
    assert_eq!(page["next_cursor"], Value::Null);
}

#[test]
fn a_bad_body_is_refused_with_what_is_wrong_before_any_kv_operation() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    let (r, body) = c.send(
        "POST",
        "/v1/actions",
        Some(&auth),
        Some("text/plain"),
        Body::Text(r#"{"type":"a"}"#),
    );
    assert_eq!(
        (r.status, body["detail"].as_str()),
        (415, Some("Content-Type must be application/json"))
    );
    for (bad, fragment) in [
        ("", "is required"),
        ("{", "not a valid action"),
        (r#"{"type":""}"#, "`type` must not be empty"),
        (r#"{"type":"a","extra":true}"#, "unknown field `extra`"),
    ] {
        let (r, body) = c.post_json(&auth, bad);
        assert_eq!(r.status, 422, "{bad}");
        assert!(body["detail"].as_str().unwrap().contains(fragment), "{bad}: {body}");
    }
    let (r, _) =
        c.send("POST", "/v1/actions", Some(&auth), Some("application/json"), Body::NotUtf8);
    assert_eq!(r.status, 422);
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 0));
}

#[test]
fn an_oversized_body_is_a_413_on_every_route_even_unknown_ones() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    for (method, target) in [
        ("POST", "/v1/actions"),
        ("POST", "/anon/login"),
        ("POST", "/items/add_action?action=x"),
        ("DELETE", "/anon/me"),
        ("POST", "/no/such/route"),
    ] {
        let (r, body) = c.send(method, target, Some(&auth), None, Body::TooLarge);
        assert_eq!(r.status, 413, "{method} {target}");
        assert_eq!(body["detail"], "the request body must be at most 8192 bytes");
    }
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 0));

    // A preflight declaring a body over the cap is refused the same way,
    // with the CORS headers an allowed origin needs to read the 413.
    let preflight = call_with(&c, "OPTIONS", "/v1/actions", |r| {
        r.origin = Some("https://app.example.com");
        r.preflight_method = Some("POST");
        r.body = Body::TooLarge;
    });
    assert_eq!(preflight.response.status, 413);
    assert_eq!(
        preflight.response.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

/// Pages through everything with `limit`, checking each page's bounds.
fn all_pages(c: &Client, auth: &str, limit: usize) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let target = match &cursor {
            Some(next) => format!("/v1/actions?limit={limit}&cursor={next}"),
            None => format!("/v1/actions?limit={limit}"),
        };
        let (r, body) = c.call("GET", &target, Some(auth));
        assert_eq!(r.status, 200, "{body}");
        let page = body["actions"].as_array().expect("actions");
        assert!(page.len() <= limit);
        ids.extend(page.iter().map(|a| a["id"].as_str().expect("id").to_owned()));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (ids, pages),
        }
    }
}

#[test]
fn five_thousand_actions_page_through_with_none_missing_none_repeated_in_order() {
    let c = Client::new(MemoryKv::default());
    let (auth, id) = c.login();
    let anon = AnonId::parse(&id).expect("id");
    let store = Store::new(&c.kv, Retention::new(2_592_000));
    let kind = Action::new("seeded".into()).expect("valid");
    for n in 0..5_000_i64 {
        block_on(store.add_action(anon, &kind, None, NOW_MS - 10_000_000 + n, 0)).expect("put");
    }

    let (ids, pages) = all_pages(&c, &auth, 100);
    assert_eq!(pages, 50);
    assert_eq!(ids.len(), 5_000);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, ids, "in order, and no id twice");
}

#[test]
fn short_kv_pages_give_short_pages_that_still_lead_to_everything() {
    let c = Client::new(MemoryKv::with_page_cap(3));
    let (auth, _) = c.login();
    for n in 0..25 {
        c.post_json(&auth, &format!(r#"{{"type":"t{n}"}}"#));
    }
    let (ids, pages) = all_pages(&c, &auth, 20);
    assert_eq!(ids.len(), 25);
    assert!(pages > 2, "KV's short pages show through: {pages} pages");
}

#[test]
fn empty_kv_pages_give_pages_that_still_lead_to_everything_once_in_order() {
    // 1: every other list call is empty, so the worker's own retry fills
    // each page. 4: four empty calls in a row exhaust a request's list
    // budget, so some pages reach the client empty, with a cursor.
    for empty_runs in [1, 4] {
        let c = Client::new(MemoryKv::with_empty_pages(empty_runs));
        let (auth, _) = c.login();
        let mut recorded = Vec::new();
        for n in 0..50 {
            let (r, body) = c.post_json(&auth, &format!(r#"{{"type":"t{n}","data":{n}}}"#));
            assert_eq!(r.status, 201, "{empty_runs}: {body}");
            recorded.push(body["id"].as_str().expect("id").to_owned());
        }

        let mut listed = Vec::new();
        let mut sizes = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            assert!(sizes.len() < 100, "{empty_runs}: the listing never ended: {sizes:?}");
            let target = match &cursor {
                Some(next) => format!("/v1/actions?limit=7&cursor={next}"),
                None => "/v1/actions?limit=7".to_owned(),
            };
            let (r, body) = c.call("GET", &target, Some(&auth));
            assert_eq!(r.status, 200, "{empty_runs}: {body}");
            let page = body["actions"].as_array().expect("actions");
            assert!(page.len() <= 7, "{empty_runs}: {} on a page", page.len());
            for action in page {
                let n = listed.len();
                assert_eq!(action["type"], format!("t{n}"), "{empty_runs}");
                assert_eq!(action["data"], n, "{empty_runs}");
                listed.push(action["id"].as_str().expect("id").to_owned());
            }
            sizes.push(page.len());
            match &body["next_cursor"] {
                Value::String(next) => cursor = Some(next.clone()),
                Value::Null => break,
                other => panic!("{empty_runs}: next_cursor {other}"),
            }
        }
        assert_eq!(listed, recorded, "{empty_runs}: every action once, oldest first");
        let empty = sizes.iter().filter(|&&n| n == 0).count();
        if empty_runs == 1 {
            assert_eq!(sizes[..7], [7; 7], "the retry fills each page: {sizes:?}");
        } else {
            assert!(empty > 0, "some pages came back empty with a cursor: {sizes:?}");
        }
    }
}

#[test]
fn a_made_up_altered_or_borrowed_cursor_is_a_422_before_any_kv_operation() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    for n in 0..3 {
        c.post_json(&auth, &format!(r#"{{"type":"t{n}"}}"#));
    }
    let (_, first) = c.call("GET", "/v1/actions?limit=1", Some(&auth));
    let cursor = first["next_cursor"].as_str().expect("more").to_owned();
    let (other, _) = c.login();

    c.kv.reset_ops();
    let mut altered = cursor.clone().into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ascii");
    for (who, bad) in [(&auth, "garbage"), (&auth, altered.as_str()), (&other, cursor.as_str())] {
        let (r, body) = c.call("GET", &format!("/v1/actions?cursor={bad}"), Some(who));
        assert_eq!(r.status, 422, "{bad}");
        assert!(body["detail"].as_str().unwrap().contains("`cursor`"));
    }
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 0));

    for (query, fragment) in
        [("limit=0", "`limit`"), ("limit=5000", "`limit`"), ("order=desc", "`order`")]
    {
        let (r, body) = c.call("GET", &format!("/v1/actions?{query}"), Some(&auth));
        assert_eq!(r.status, 422, "{query}");
        assert!(body["detail"].as_str().unwrap().contains(fragment), "{query}");
    }
}

#[test]
fn a_page_costs_one_list_and_a_later_page_one_more_read() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    for n in 0..3 {
        c.post_json(&auth, &format!(r#"{{"type":"t{n}"}}"#));
    }
    c.kv.reset_ops();
    let (_, first) = c.call("GET", "/v1/actions?limit=2", Some(&auth));
    assert_eq!(*c.kv.ops.borrow(), (0, 0, 1));
    c.kv.reset_ops();
    let next = first["next_cursor"].as_str().expect("more").to_owned();
    let (_, second) = c.call("GET", &format!("/v1/actions?limit=2&cursor={next}"), Some(&auth));
    assert_eq!(second["actions"].as_array().map(Vec::len), Some(1));
    assert_eq!(*c.kv.ops.borrow(), (1, 0, 1), "the tombstone read, and the list");
}

#[test]
fn erasing_revokes_the_visitors_tokens_on_every_route_that_reads_kv() {
    let c = Client::new(MemoryKv::default());
    let (auth, id) = c.login();
    c.call("POST", "/items/add_action?action=a", Some(&auth));
    c.post_json(&auth, r#"{"type":"b"}"#);
    let (_, first) = c.call("GET", "/v1/actions?limit=1", Some(&auth));
    let cursor = first["next_cursor"].as_str().expect("more").to_owned();
    let (second_token, _) = {
        let (_, body) = c.call("POST", "/anon/refresh", Some(&auth));
        (format!("Bearer {}", body["access_token"].as_str().unwrap()), ())
    };

    let (r, body) = c.call("DELETE", "/anon/me", Some(&auth));
    assert_eq!(r.status, 200);
    assert_eq!(body, serde_json::json!({"anon_id": id, "erased": 2, "complete": true}));

    for token in [&auth, &second_token] {
        for (method, target) in [
            ("GET", "/items/my_anonymous_items"),
            ("POST", "/items/add_action?action=c"),
            ("GET", "/v1/actions"),
            ("GET", &format!("/v1/actions?cursor={cursor}")),
            ("GET", "/anon/me"),
            ("POST", "/anon/refresh"),
        ] {
            let (r, body) = c.call(method, target, Some(token));
            assert_eq!(r.status, 401, "{method} {target}");
            assert_eq!(body["detail"], "this session was erased; start a new one");
            assert!(r.header("www-authenticate").unwrap().contains("invalid_token"));
        }
        let (r, _) = c.post_json(token, r#"{"type":"d"}"#);
        assert_eq!(r.status, 401);
    }
    // Documented: whoami checks the token alone, with no KV operation.
    assert_eq!(c.call("GET", "/anon/whoami", Some(&auth)).0.status, 200);
    // Erasing again is harmless and finds nothing more.
    let (r, body) = c.call("DELETE", "/anon/me", Some(&auth));
    assert_eq!((r.status, &body["erased"]), (200, &serde_json::json!(0)));

    let keys = c.kv.keys();
    assert_eq!(keys, [format!("a:{id}:!")], "nothing but the tombstone");
    let ttl = c.kv.entry(&keys[0]).expect("tombstone").2;
    assert_eq!(ttl, 604_800 + 604_800 + 120, "until every old token is past its grace");
}

#[test]
fn a_visitor_too_large_for_one_call_is_erased_over_several_with_202_until_done() {
    let c = Client::new(MemoryKv::default());
    let (auth, id) = c.login();
    let anon = AnonId::parse(&id).expect("id");
    let store = Store::new(&c.kv, Retention::new(2_592_000));
    let kind = Action::new("x".into()).expect("valid");
    for n in 0..2_000_i64 {
        block_on(store.add_action(anon, &kind, None, NOW_MS - 10_000_000 + n, 0)).expect("put");
    }
    let mut statuses = Vec::new();
    let mut erased = 0;
    loop {
        let (r, body) = c.call("DELETE", "/anon/me", Some(&auth));
        statuses.push(r.status);
        erased += body["erased"].as_u64().expect("count");
        // From the first call on, the token is revoked everywhere else.
        assert_eq!(c.call("GET", "/v1/actions", Some(&auth)).0.status, 401);
        if body["complete"] == true {
            break;
        }
    }
    assert_eq!(statuses, [202, 202, 200]);
    assert_eq!(erased, 2_000);
}

#[test]
fn an_active_visitor_keeps_their_data_and_an_inactive_one_loses_it_in_time() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    c.post_json(&auth, r#"{"type":"first"}"#);
    // Active every five days for three months, by refreshing the token:
    // far longer than the 30-day retention.
    let mut token = auth;
    for day in (5..=90).step_by(5) {
        c.at_day(day);
        let (r, body) = c.call("POST", "/anon/refresh", Some(&token));
        assert_eq!(r.status, 200, "day {day}");
        token = format!("Bearer {}", body["access_token"].as_str().unwrap());
        let (_, page) = c.call("GET", "/v1/actions", Some(&token));
        assert_eq!(page["actions"].as_array().map(Vec::len), Some(1), "day {day}");
    }

    // Then inactive: everything is kept at least 30 days after the last
    // activity (day 90), and gone within 45.
    let day = 24 * 3600;
    let start = NOW_MS / 1000;
    c.kv.set_now(start + (90 + 30) * day);
    assert_eq!(c.kv.keys().len(), 2, "the action and the record");
    c.kv.set_now(start + (90 + 45) * day + 1);
    assert!(c.kv.keys().is_empty());
}

#[test]
fn sliding_rewrites_a_key_at_most_once_per_margin() {
    let c = Client::new(MemoryKv::default());
    let (auth, _) = c.login();
    c.post_json(&auth, r#"{"type":"a"}"#);
    // Ten days in: the key is stale, and a burst of activity rewrites it once.
    c.at_day(10);
    let (_, body) = c.call("POST", "/anon/refresh", Some(&auth));
    let token = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let writes_before = c.kv.ops.borrow().1;
    for _ in 0..20 {
        c.post_json(&token, r#"{"type":"b"}"#);
    }
    let writes = c.kv.ops.borrow().1 - writes_before;
    assert!(writes <= 20 + 1, "20 new actions and at most one record write: {writes}");
}
