//! The endpoints, as plain async Rust over the [`Kv`] trait.
//!
//! KV operations per request (the README's table comes from here; the host
//! tests count them):
//! - `GET /`, `GET /.well-known/jwks.json`,
//!   `POST /anon/login`, `GET /anon/whoami`: none. Minting writes
//!   nothing, so a bot that only mints costs no KV writes; `whoami` checks
//!   the token alone and does not see an erase (see `docs/kv-schema.md`).
//! - `POST /anon/refresh`: one `get` (the tombstone), one `get` (the record)
//!   and at most one `put` a minute (the record); a scan every few days,
//!   after the response, slides the visitor's expiration.
//! - `GET /anon/me`: one `get` (the record) and one `list` per 1000 actions.
//! - `DELETE /anon/me`: one `list` per 1000 keys, one `put` (the tombstone)
//!   and one `delete` per key, and on the call that wrote the tombstone one
//!   more listing pass for writes that raced it, within
//!   [`store::ERASE_BUDGET`].
//! - `GET /items/my_anonymous_items`, `GET /v1/actions`: one `list` (more
//!   only while KV returns short pages, at most [`store::MAX_LIST_CALLS`]);
//!   a page after the first adds one `get` (the tombstone).
//! - `POST /items/add_action`, `POST /v1/actions`: one `list`, one `put`
//!   (the action), one `get` (the record) and at most one `put` a minute
//!   (the record), plus the occasional scan. A visitor with more than 1000
//!   actions costs one more `list` per further 1000, to enforce
//!   [`store::MAX_ACTIONS_PER_VISITOR`].
//!
//! Every check on the request (body size, route, token, parameters, body)
//! happens before the first KV operation.

mod actions;
mod session;

use crate::{
    anon_id::AnonId,
    bearer,
    config::{Config, ConfigError},
    cors::CorsPolicy,
    error::ApiError,
    http::{Body, Request, Response},
    kv::Kv,
    platform::{Limiter, Platform, RateDecision},
    routes::{Route, route},
    store::{Store, UserRecord},
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
    /// Work to do after the response is sent ([`follow_up`]).
    pub follow_up: Option<FollowUp>,
}

/// Work a request leaves for after its response: sliding the visitor's
/// expiration forward ([`Store::slide`]), which can rewrite hundreds of
/// keys and should not hold the response up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUp {
    /// The visitor.
    pub anon_id: AnonId,
    /// Their record as the request read it.
    pub record: UserRecord,
    /// The request's time, in Unix seconds.
    pub now: i64,
}

/// What a request learned on its way, for the log and the follow-up.
#[derive(Default)]
struct Trace {
    route: Option<Route>,
    anon_id: Option<AnonId>,
    warning: Option<String>,
    follow_up: Option<FollowUp>,
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
    // A preflight declaring an oversized body is served like any request,
    // so that it gets the 413 (with CORS headers) every route gives.
    let preflight = match (req.is_options(), req.origin, req.preflight_method) {
        (true, Some(origin), Some(_)) if req.body != Body::TooLarge => Some(origin),
        _ => None,
    };
    let (mut response, error) = if let Some(origin) = preflight {
        match deps.cors.preflight(origin) {
            Some(response) => (response, None),
            None => (ApiError::OriginNotAllowed.to_response(), Some(ApiError::OriginNotAllowed)),
        }
    } else {
        let (mut response, error) = match serve(req, deps, &mut trace).await {
            Ok(response) => (response, None),
            Err(error) => (error.to_response(), Some(error)),
        };
        deps.cors.decorate(req.origin, &mut response);
        (response, error)
    };

    response.headers.extend(SECURITY_HEADERS.iter().map(|(n, v)| (*n, (*v).to_owned())));
    Outcome {
        response,
        route: trace.route,
        anon_id: trace.anon_id,
        error,
        warning: trace.warning,
        follow_up: trace.follow_up,
    }
}

async fn serve<K: Kv, P: Platform>(
    req: &Request<'_>,
    deps: &Deps<'_, K, P>,
    trace: &mut Trace,
) -> Result<Response, ApiError> {
    // Before anything else, whatever the route: the edge never buffered it.
    if req.body == Body::TooLarge {
        return Err(ApiError::BodyTooLarge);
    }
    let route = route(req.method, req.path)?;
    trace.route = Some(route);
    match route {
        Route::Welcome => Ok(session::welcome()),
        // Workers static assets answer GET /openapi.json before the worker
        // runs (assets/openapi.json, copied to build-assets/); it reaches
        // here only from a deployment without them.
        Route::OpenApi => Err(ApiError::NotFound),
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
            session::login(config, deps.now_ms)
        }
        #[cfg(feature = "test-hooks")]
        Route::Panic => panic!("test hook: deliberate panic"),
        _ => serve_visitor(route, req, deps, trace).await,
    }
}

/// The routes that take a token: each is reached only with a verified one.
async fn serve_visitor<K: Kv, P: Platform>(
    route: Route,
    req: &Request<'_>,
    deps: &Deps<'_, K, P>,
    trace: &mut Trace,
) -> Result<Response, ApiError> {
    let config = config(deps)?;
    // Refresh alone accepts a token up to the grace period past its
    // expiry; every other route needs a live token.
    let grace = if route == Route::Refresh { config.refresh_grace_seconds } else { 0 };
    let verified = authenticate(req, config, deps.now_ms, grace)?;
    trace.anon_id = Some(verified.anon_id);
    limit(deps, Limiter::Session, &verified.anon_id.to_string()).await?;

    if route == Route::WhoAmI {
        return Ok(session::whoami(verified));
    }
    let store = Store::new(kv(deps)?, config.retention());
    let now = deps.now_ms.div_euclid(1000);
    match route {
        Route::Refresh => session::refresh(&store, config, verified, deps.now_ms, trace).await,
        Route::Me => session::me(&store, verified).await,
        Route::Erase => session::erase(&store, config, verified, now).await,
        Route::MyItems => actions::my_items(&store, verified.anon_id).await,
        Route::ListActions => actions::list(&store, config, verified.anon_id, req.query).await,
        Route::AddAction => {
            actions::add_from_query(&store, verified.anon_id, req, deps, trace).await
        }
        _ => actions::record(&store, verified.anon_id, req, deps, trace).await,
    }
}

/// Runs a request's [`FollowUp`] and returns its log line. The edge runs it
/// after the response; it answers nothing, so its failures are logged only.
pub async fn follow_up<K: Kv>(kv: &K, config: &Config, job: FollowUp) -> String {
    let store = Store::new(kv, config.retention());
    let result = store.slide(job.anon_id, job.record, job.now).await;
    crate::log::slide_line(job.anon_id, &result)
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
    let token = turnstile::token_from(req.turnstile, req.body.text())
        .ok_or(ApiError::Turnstile(TurnstileError::Missing))?;
    let body = turnstile::request_body(secret, &token, req.client_ip);
    let answer = platform
        .siteverify(&body)
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

/// Records activity at `now` for the visitor: refreshes their record, and
/// when their keys are due a scan, leaves it to a [`FollowUp`]. A failure
/// is a warning: the record is bookkeeping, the request's work is done.
async fn touch<K: Kv>(store: &Store<'_, K>, id: AnonId, now: i64, trace: &mut Trace) {
    match store.touch_record(id, now).await {
        Ok(Some(record)) => trace.follow_up = Some(FollowUp { anon_id: id, record, now }),
        Ok(None) => {}
        Err(e) => trace.warning = Some(format!("visitor record not refreshed: {e}")),
    }
}

/// How long verifiers and caches may keep the JWKS: one hour. A key must
/// be listed (verify-only) at least this long before it signs, so that no
/// verifier meets a `kid` its cached set lacks; the README's rotation
/// procedure waits for it.
pub const JWKS_MAX_AGE_SECONDS: u32 = 3600;

#[cfg(test)]
mod tests;
