//! The endpoints, as plain async Rust over the [`Kv`] trait.
//!
//! KV operations per request (the README's table comes from here):
//! - `GET /`, `GET /openapi.json`, `GET /.well-known/jwks.json`,
//!   `POST /anon/login`, `GET /anon/whoami`: none. Minting writes
//!   nothing, so a bot that only mints costs no KV writes.
//! - `POST /anon/refresh`: none.
//! - `GET /anon/me`: one `get` (the record) and one `list` per 1000 actions.
//! - `GET /items/my_anonymous_items`: one `list` (more only while KV returns
//!   short pages, at most [`store::MAX_LIST_CALLS`]).
//! - `POST /items/add_action`: one `list`, one `put` (the action), one `get`
//!   (the record), and one more `put` at most once a minute per visitor.
//!   A visitor with more than 1000 actions costs one more `list` per further
//!   1000, to enforce [`store::MAX_ACTIONS_PER_VISITOR`].
//!
//! Every check on the request (route, token, `action`) happens before the
//! first KV operation.

use serde::Serialize;

use crate::{
    action::{self, Action},
    anon_id::{AnonId, RandomUnavailable},
    bearer,
    config::{Config, ConfigError},
    cors::CorsPolicy,
    error::ApiError,
    http::{Request, Response},
    kv::Kv,
    platform::{Limiter, Platform, RateDecision},
    routes::{Route, route},
    store::{self, Store},
    token::{self, VerifiedToken},
    turnstile::{self, TurnstileError},
};

/// What the platform provides to a request.
pub struct Deps<'a, K, P> {
    /// The configuration, or why it was refused.
    pub config: Result<&'a Config, &'a ConfigError>,
    /// Which origins may call from a browser; read on its own so that even
    /// a misconfiguration's 500 reaches the SPA.
    pub cors: &'a CorsPolicy,
    /// The KV namespace, if bound.
    pub kv: Option<&'a K>,
    /// Rate limiters and outbound calls.
    pub platform: &'a P,
    /// The current time, in Unix milliseconds.
    pub now_ms: i64,
}

/// A served request: the response, and what the log should add.
#[derive(Debug)]
pub struct Outcome {
    /// The response for the client.
    pub response: Response,
    /// The route reached, if any.
    pub route: Option<Route>,
    /// The visitor, once their token was verified.
    pub anon_id: Option<AnonId>,
    /// The error the response stands for, if any.
    pub error: Option<ApiError>,
    /// A problem that did not fail the request.
    pub warning: Option<String>,
}

/// What a request learned on its way, for the log.
#[derive(Default)]
struct Trace {
    route: Option<Route>,
    anon_id: Option<AnonId>,
    warning: Option<String>,
}

/// Headers on every response of a JSON API: no MIME sniffing, and a policy
/// that lets a response, if ever rendered as a document, load and frame
/// nothing.
const SECURITY_HEADERS: [(&str, &str); 2] = [
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
];

/// Serves one request. Never fails: errors become responses here, through
/// [`ApiError::to_response`], and every response gets its CORS and security
/// headers here.
pub async fn handle<K: Kv, P: Platform>(req: &Request<'_>, deps: &Deps<'_, K, P>) -> Outcome {
    let mut trace = Trace::default();
    let preflight = match (req.is_options(), req.origin, req.preflight_method) {
        (true, Some(origin), Some(_)) => Some(origin),
        _ => None,
    };
    let (mut response, error) = if let Some(origin) = preflight {
        (deps.cors.preflight(origin), None)
    } else {
        let (mut response, error) = match serve(req, deps, &mut trace).await {
            Ok(response) => (response, None),
            Err(error) => (error.to_response(), Some(error)),
        };
        deps.cors.decorate(req.origin, &mut response);
        (response, error)
    };

    response.headers.extend(SECURITY_HEADERS.iter().map(|(n, v)| (*n, (*v).to_owned())));
    Outcome { response, route: trace.route, anon_id: trace.anon_id, error, warning: trace.warning }
}

async fn serve<K: Kv, P: Platform>(
    req: &Request<'_>,
    deps: &Deps<'_, K, P>,
    trace: &mut Trace,
) -> Result<Response, ApiError> {
    let route = route(req.method, req.path)?;
    trace.route = Some(route);
    match route {
        Route::Welcome => Ok(welcome()),
        Route::OpenApi => Ok(Response::json_text(200, OPENAPI)),
        Route::Jwks => {
            let jwks = config(deps)?.policy().keys.jwks();
            Ok(Response::json_text(200, &jwks).cacheable(JWKS_MAX_AGE_SECONDS))
        }
        Route::Login => {
            let config = config(deps)?;
            limit(deps, Limiter::Mint, req.client_ip.unwrap_or("unknown")).await?;
            if let Some(secret) = config.turnstile_secret() {
                check_turnstile(req, deps.platform, secret).await?;
            }
            login(config, deps.now_ms)
        }
        #[cfg(feature = "test-hooks")]
        Route::Panic => panic!("test hook: deliberate panic"),
        Route::WhoAmI | Route::MyItems | Route::AddAction | Route::Refresh | Route::Me => {
            let config = config(deps)?;
            // Refresh alone accepts a token up to the grace period past its
            // expiry; every other route needs a live token.
            let grace = if route == Route::Refresh { config.refresh_grace_seconds } else { 0 };
            let verified = authenticate(req, config, deps.now_ms, grace)?;
            trace.anon_id = Some(verified.anon_id);
            limit(deps, Limiter::Session, &verified.anon_id.to_string()).await?;
            match route {
                Route::Refresh => issue(config, verified.anon_id, deps.now_ms),
                Route::Me => {
                    let store = Store::new(kv(deps)?, config.data_ttl_seconds);
                    me(&store, verified).await
                }
                Route::WhoAmI => Ok(Response::json(
                    200,
                    &WhoAmI { anon_id: verified.anon_id, expires_at: verified.expires_at },
                )),
                Route::MyItems => {
                    let store = Store::new(kv(deps)?, config.data_ttl_seconds);
                    my_items(&store, verified.anon_id).await
                }
                _ => {
                    let action = action::from_query(req.query).map_err(ApiError::Action)?;
                    let store = Store::new(kv(deps)?, config.data_ttl_seconds);
                    add_action(&store, verified.anon_id, action, deps.now_ms, &mut trace.warning)
                        .await
                }
            }
        }
    }
}

async fn limit<K, P: Platform>(
    deps: &Deps<'_, K, P>,
    limiter: Limiter,
    key: &str,
) -> Result<(), ApiError> {
    match deps.platform.rate_limit(limiter, key).await {
        RateDecision::Limited => Err(ApiError::RateLimited),
        RateDecision::Allowed | RateDecision::Unbound => Ok(()),
    }
}

async fn check_turnstile<P: Platform>(
    req: &Request<'_>,
    platform: &P,
    secret: &str,
) -> Result<(), ApiError> {
    let token = turnstile::token_from(req.turnstile, req.body)
        .ok_or(ApiError::Turnstile(TurnstileError::Missing))?;
    let form = turnstile::request_body(secret, &token, req.client_ip);
    let answer = platform
        .siteverify(&form)
        .await
        .map_err(|e| ApiError::Turnstile(TurnstileError::Unavailable(e)))?;
    turnstile::judge(&answer).map_err(ApiError::Turnstile)
}

fn config<'a, K, P>(deps: &Deps<'a, K, P>) -> Result<&'a Config, ApiError> {
    deps.config.map_err(|e| ApiError::Config(e.clone()))
}

fn kv<'a, K, P>(deps: &Deps<'a, K, P>) -> Result<&'a K, ApiError> {
    deps.kv.ok_or(ApiError::Config(ConfigError::MissingKvBinding))
}

/// The one place a request becomes a visitor: nothing downstream sees the
/// raw token.
fn authenticate(
    req: &Request<'_>,
    config: &Config,
    now_ms: i64,
    grace_seconds: u64,
) -> Result<VerifiedToken, ApiError> {
    let raw = bearer::token_from_header(req.authorization).map_err(ApiError::Bearer)?;
    let grace = i64::try_from(grace_seconds).unwrap_or(i64::MAX);
    token::verify_with_grace(config.policy(), raw, now_ms.div_euclid(1000), grace)
        .map_err(ApiError::Token)
}

/// The API's OpenAPI 3.1 document, served as written.
const OPENAPI: &str = include_str!("openapi.json");

/// How long verifiers and caches may keep the JWKS: one hour. A key must
/// be listed (verify-only) at least this long before it signs, so that no
/// verifier meets a `kid` its cached set lacks; the README's rotation
/// procedure waits for it.
pub const JWKS_MAX_AGE_SECONDS: u32 = 3600;

#[derive(Serialize)]
struct Welcome {
    message: &'static str,
}

fn welcome() -> Response {
    Response::json(200, &Welcome { message: "Welcome to the anonymous session demo!" })
}

#[derive(Serialize)]
struct Login {
    access_token: String,
    token_type: &'static str,
    anon_id: AnonId,
    expires_in: u64,
}

fn login(config: &Config, now_ms: i64) -> Result<Response, ApiError> {
    let anon_id = AnonId::generate().map_err(ApiError::Random)?;
    issue(config, anon_id, now_ms)
}

/// A token for `anon_id`, in the shape `POST /anon/login` answers with; a
/// refresh answers the same way for the visitor it already knows.
fn issue(config: &Config, anon_id: AnonId, now_ms: i64) -> Result<Response, ApiError> {
    let minted =
        token::mint(config.policy(), anon_id, now_ms.div_euclid(1000), config.token_ttl_seconds)
            .map_err(ApiError::Mint)?;
    Ok(Response::json(
        200,
        &Login {
            access_token: minted.token,
            token_type: "bearer",
            anon_id,
            expires_in: config.token_ttl_seconds,
        },
    )
    .with_header("pragma", "no-cache".into()))
}

#[derive(Serialize)]
struct WhoAmI {
    anon_id: AnonId,
    expires_at: i64,
}

#[derive(Serialize)]
struct Me {
    anon_id: AnonId,
    /// Unix seconds; `null` until the visitor records an action.
    created_at: Option<i64>,
    last_activity_at: Option<i64>,
    token_expires_at: i64,
    action_count: usize,
}

async fn me<K: Kv>(store: &Store<'_, K>, verified: VerifiedToken) -> Result<Response, ApiError> {
    let record = store.record(verified.anon_id).await.map_err(ApiError::Storage)?;
    let action_count = store.count_actions(verified.anon_id).await.map_err(ApiError::Storage)?;
    Ok(Response::json(
        200,
        &Me {
            anon_id: verified.anon_id,
            created_at: record.map(|r| r.created_at),
            last_activity_at: record.map(|r| r.last_activity_at),
            token_expires_at: verified.expires_at,
            action_count,
        },
    ))
}

#[derive(Serialize)]
struct MyItems {
    anon_id: AnonId,
    message: String,
    /// The seed returned a fixed demo list here; this worker has no item
    /// catalogue, so the field stays for compatibility and is empty.
    your_items: [String; 0],
    previous_actions: Vec<String>,
}

async fn my_items<K: Kv>(store: &Store<'_, K>, id: AnonId) -> Result<Response, ApiError> {
    let actions = store.first_actions(id).await.map_err(ApiError::Storage)?;
    Ok(Response::json(
        200,
        &MyItems {
            anon_id: id,
            message: format!("Welcome, anonymous user {id}!"),
            your_items: [],
            previous_actions: actions.texts(),
        },
    ))
}

#[derive(Serialize)]
struct ActionAdded {
    anon_id: AnonId,
    message: String,
    current_actions: Vec<String>,
}

async fn add_action<K: Kv>(
    store: &Store<'_, K>,
    id: AnonId,
    action: Action,
    now_ms: i64,
    warning: &mut Option<String>,
) -> Result<Response, ApiError> {
    let nonce = getrandom::u32().map_err(|e| ApiError::Random(RandomUnavailable(e.to_string())))?;

    // Listing before writing means a KV failure at either step leaves the
    // client with an honest error and nothing half-done to retry over.
    let mut actions = store.first_actions(id).await.map_err(ApiError::Storage)?;
    if store.at_capacity(id, &actions).await.map_err(ApiError::Storage)? {
        return Err(ApiError::TooManyActions);
    }
    let at_ms = store::action_time(now_ms);
    let (key, stored) =
        store.add_action(id, &action, at_ms, nonce).await.map_err(ApiError::Storage)?;
    actions.include(key, stored);

    if let Err(e) = store.touch_record(id, now_ms.div_euclid(1000)).await {
        *warning = Some(format!("visitor record not refreshed: {e}"));
    }

    Ok(Response::json(
        200,
        &ActionAdded {
            anon_id: id,
            message: format!("Action '{}' recorded for anonymous user {id}", action.as_str()),
            current_actions: actions.texts(),
        },
    ))
}

#[cfg(test)]
mod tests;
