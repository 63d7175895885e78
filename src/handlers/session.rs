//! The session's own endpoints: mint, refresh, who am I, my record, erase.

use serde::Serialize;

use super::{Trace, touch};
use crate::{
    anon_id::AnonId,
    config::Config,
    error::ApiError,
    http::Response,
    kv::Kv,
    store::Store,
    token::{self, VerifiedToken},
};

#[derive(Serialize)]
struct Welcome {
    message: &'static str,
}

pub(super) fn welcome() -> Response {
    Response::json(200, &Welcome { message: "Welcome to the anonymous session demo!" })
}

#[derive(Serialize)]
struct Login {
    access_token: String,
    token_type: &'static str,
    anon_id: AnonId,
    expires_in: u64,
}

pub(super) fn login(config: &Config, now_ms: i64) -> Result<Response, ApiError> {
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

/// A fresh token for a visitor who has not been erased. Refreshing is
/// activity: the client does it every few days while the app is in use, so
/// it is what keeps a reading-only visitor's data alive.
pub(super) async fn refresh<K: Kv>(
    store: &Store<'_, K>,
    config: &Config,
    verified: VerifiedToken,
    now_ms: i64,
    trace: &mut Trace,
) -> Result<Response, ApiError> {
    if store.is_erased(verified.anon_id).await.map_err(ApiError::Storage)? {
        return Err(ApiError::Erased);
    }
    let response = issue(config, verified.anon_id, now_ms)?;
    touch(store, verified.anon_id, now_ms.div_euclid(1000), trace).await;
    Ok(response)
}

#[derive(Serialize)]
struct WhoAmI {
    anon_id: AnonId,
    expires_at: i64,
}

/// What the token says, with no KV operation. Known shortcoming: it does
/// not see an erase, so an erased visitor's unexpired token still answers
/// here (as it does for any verifier checking tokens offline against the
/// JWKS); every route that reads the visitor's data refuses it.
pub(super) fn whoami(verified: VerifiedToken) -> Response {
    Response::json(200, &WhoAmI { anon_id: verified.anon_id, expires_at: verified.expires_at })
}

#[derive(Serialize)]
struct Me {
    anon_id: AnonId,
    /// Unix seconds; `null` until the visitor is first active.
    created_at: Option<i64>,
    last_activity_at: Option<i64>,
    token_expires_at: i64,
    action_count: usize,
}

pub(super) async fn me<K: Kv>(
    store: &Store<'_, K>,
    verified: VerifiedToken,
) -> Result<Response, ApiError> {
    let tally = store.tally(verified.anon_id).await.map_err(ApiError::Storage)?;
    if tally.erased {
        return Err(ApiError::Erased);
    }
    let record = store.record(verified.anon_id).await.map_err(ApiError::Storage)?;
    Ok(Response::json(
        200,
        &Me {
            anon_id: verified.anon_id,
            created_at: record.map(|r| r.created_at),
            last_activity_at: record.map(|r| r.last_activity_at),
            token_expires_at: verified.expires_at,
            action_count: tally.actions,
        },
    ))
}

#[derive(Serialize)]
struct Erasure {
    anon_id: AnonId,
    erased: usize,
    complete: bool,
}

/// Erases the visitor. 200 when nothing is left; 202 when one invocation's
/// KV budget ran out first, and the client should call again (the same
/// token keeps working here, and only here).
pub(super) async fn erase<K: Kv>(
    store: &Store<'_, K>,
    config: &Config,
    verified: VerifiedToken,
    now: i64,
) -> Result<Response, ApiError> {
    let done = store
        .erase(verified.anon_id, now, config.tombstone_ttl_seconds())
        .await
        .map_err(ApiError::Storage)?;
    let status = if done.complete { 200 } else { 202 };
    Ok(Response::json(
        status,
        &Erasure { anon_id: verified.anon_id, erased: done.deleted, complete: done.complete },
    ))
}
