//! The visitor's actions: the seed's endpoints and the structured `/v1`
//! ones, over one store.

use serde::Serialize;

use super::{Deps, Trace, touch};
use crate::{
    action::{self, Action},
    action_json,
    anon_id::{AnonId, RandomUnavailable},
    config::Config,
    cursor,
    error::ApiError,
    http::{Body, Request, Response},
    json::Json,
    kv::Kv,
    page::{self, PageError},
    store::{self, Actions, Store, StoredAction},
};

#[derive(Serialize)]
struct MyItems {
    anon_id: AnonId,
    message: String,
    /// The seed returned a fixed demo list here; this worker has no item
    /// catalogue, so the field stays for compatibility and is empty.
    your_items: [String; 0],
    previous_actions: Vec<String>,
}

/// The first listing of a visitor who has not been erased.
async fn first_page<K: Kv>(store: &Store<'_, K>, id: AnonId) -> Result<Actions, ApiError> {
    let actions = store.first_actions(id).await.map_err(ApiError::Storage)?;
    if actions.erased {
        return Err(ApiError::Erased);
    }
    Ok(actions)
}

pub(super) async fn my_items<K: Kv>(
    store: &Store<'_, K>,
    id: AnonId,
) -> Result<Response, ApiError> {
    let actions = first_page(store, id).await?;
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

/// The seed's `POST /items/add_action?action=…`.
pub(super) async fn add_from_query<K: Kv, P>(
    store: &Store<'_, K>,
    id: AnonId,
    req: &Request<'_>,
    deps: &Deps<'_, K, P>,
    trace: &mut Trace,
) -> Result<Response, ApiError> {
    let action = action::from_query(req.query).map_err(ApiError::Action)?;
    let (mut actions, key, stored) = write(store, id, &action, None, deps.now_ms, trace).await?;
    actions.include(key, stored);
    Ok(Response::json(
        200,
        &ActionAdded {
            anon_id: id,
            message: format!("Action '{}' recorded for anonymous user {id}", action.as_str()),
            current_actions: actions.texts(),
        },
    ))
}

/// One action as `/v1` shows it.
#[derive(Serialize)]
struct ActionView<'a> {
    /// The key's suffix: its time and nonce, unique and in order.
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a Option<Json>,
    recorded_at_ms: i64,
}

fn view<'a>(key: &'a str, action: &'a StoredAction) -> ActionView<'a> {
    // Every listed key is under the visitor's prefix, `a:<36-char id>:`.
    let id = key.get(39..).unwrap_or(key);
    ActionView { id, kind: &action.action, data: &action.data, recorded_at_ms: action.at_ms }
}

/// `POST /v1/actions`: a structured action, answered with 201 and the
/// action as stored.
pub(super) async fn record<K: Kv, P>(
    store: &Store<'_, K>,
    id: AnonId,
    req: &Request<'_>,
    deps: &Deps<'_, K, P>,
    trace: &mut Trace,
) -> Result<Response, ApiError> {
    let body = match req.body {
        Body::NotUtf8 => return Err(ApiError::Body(action_json::BodyError::NotUtf8)),
        body => body.text(),
    };
    let new = action_json::parse(req.content_type, body).map_err(ApiError::Body)?;
    let (_, key, stored) =
        write(store, id, &new.kind, new.data.as_ref(), deps.now_ms, trace).await?;
    Ok(Response::json(201, &view(&key, &stored)))
}

/// Records an action for a visitor who has not been erased and is under
/// the cap, then counts it as activity. Listing before writing means a KV
/// failure at either step leaves the client with an honest error and
/// nothing half-done to retry over.
async fn write<K: Kv>(
    store: &Store<'_, K>,
    id: AnonId,
    action: &Action,
    data: Option<&Json>,
    now_ms: i64,
    trace: &mut Trace,
) -> Result<(Actions, String, StoredAction), ApiError> {
    let nonce = getrandom::u32().map_err(|e| ApiError::Random(RandomUnavailable(e.to_string())))?;
    let actions = first_page(store, id).await?;
    if store.at_capacity(id, &actions).await.map_err(ApiError::Storage)? {
        return Err(ApiError::TooManyActions);
    }
    let at_ms = store::action_time(now_ms);
    let (key, stored) =
        store.add_action(id, action, data, at_ms, nonce).await.map_err(ApiError::Storage)?;
    touch(store, id, now_ms.div_euclid(1000), trace).await;
    Ok((actions, key, stored))
}

#[derive(Serialize)]
struct Page<'a> {
    actions: Vec<ActionView<'a>>,
    next_cursor: Option<String>,
}

/// `GET /v1/actions`: one page, oldest first, with a sealed cursor for the
/// next. A page can be short, even empty, while `next_cursor` is set: KV
/// returned a short page, and the client should follow the cursor.
pub(super) async fn list<K: Kv>(
    store: &Store<'_, K>,
    config: &Config,
    id: AnonId,
    query: &str,
) -> Result<Response, ApiError> {
    let wanted = page::parse(query).map_err(ApiError::Page)?;
    let kv_cursor = wanted
        .cursor
        .as_deref()
        .map(|sealed| cursor::open(config.cursor_key(), id, sealed))
        .transpose()
        .map_err(|_| ApiError::Page(PageError::BadCursor))?;

    // Only a listing from the start sees the tombstone; later pages ask.
    if kv_cursor.is_some() && store.is_erased(id).await.map_err(ApiError::Storage)? {
        return Err(ApiError::Erased);
    }
    let actions =
        store.page(id, wanted.limit, kv_cursor.as_deref()).await.map_err(ApiError::Storage)?;
    if actions.erased {
        return Err(ApiError::Erased);
    }
    let next_cursor =
        actions.cursor.as_deref().map(|next| cursor::seal(config.cursor_key(), id, next));
    let views = actions.items.iter().map(|(key, action)| view(key, action)).collect();
    Ok(Response::json(200, &Page { actions: views, next_cursor }))
}
